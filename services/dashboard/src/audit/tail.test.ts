import { describe, expect, it } from "vitest";
import { matchesAccess, prependLive, storedRow, TAIL_CAP } from "./tail";
import { accessRecord, liveStep, storedAccess, TRACE } from "../test/auditData";

describe("matching a live record against the filters", () => {
  const record = accessRecord();

  it("matches everything with no filters", () => {
    expect(matchesAccess(record, {})).toBe(true);
  });

  it("matches a status code or a class", () => {
    expect(matchesAccess(record, { status: 422 })).toBe(true);
    expect(matchesAccess(record, { status: 4 })).toBe(true);
    expect(matchesAccess(record, { status: 404 })).toBe(false);
    expect(matchesAccess(record, { status: 5 })).toBe(false);
  });

  it("matches the path or the route by prefix, the method in any case", () => {
    expect(matchesAccess(record, { path: "/api/v1/metrics/import?format" })).toBe(true);
    expect(matchesAccess(accessRecord({ path: "/api/v1/users/7", route: "/api/v1/users/{id}" }), { path: "/api/v1/users/{" })).toBe(true);
    expect(matchesAccess(record, { path: "/api/v1/classes" })).toBe(false);
    expect(matchesAccess(record, { method: "post" })).toBe(true);
    expect(matchesAccess(record, { method: "GET" })).toBe(false);
  });

  it("matches user, ip, trace and service exactly", () => {
    expect(matchesAccess(record, { user_id: "u-1", ip_address: "10.0.0.7", trace_id: TRACE, service: "gateway" })).toBe(true);
    expect(matchesAccess(record, { user_id: "u-10" })).toBe(false);
    expect(matchesAccess(record, { ip_address: "10.0.0.70" })).toBe(false);
    expect(matchesAccess(record, { trace_id: "0".repeat(32) })).toBe(false);
    expect(matchesAccess(record, { service: "ingest" })).toBe(false);
    expect(matchesAccess(accessRecord({ user_id: null }), { user_id: "u-1" })).toBe(false);
  });

  it("matches the time range: since included, until excluded", () => {
    expect(matchesAccess(record, { since: "2025-03-01T12:00:00.000100Z" })).toBe(true);
    expect(matchesAccess(record, { since: "2025-03-01T12:00:00.000200Z" })).toBe(false);
    expect(matchesAccess(record, { until: "2025-03-01T12:00:00.000100Z" })).toBe(false);
    expect(matchesAccess(record, { until: "2025-03-01T12:00:01Z" })).toBe(true);
  });
});

describe("the live tail", () => {
  const key = (n: number) => n.toString(16).padStart(32, "0");

  it("puts matching access records on top, newest first, skipping task steps and repeats", () => {
    const stored = [storedRow(storedAccess({ id: 1 }))];
    const batch = [
      accessRecord({ key: key(1), response_status: 500 }),
      liveStep(),
      accessRecord({ key: key(2), response_status: 200 }),
      accessRecord({ key: key(3), response_status: 503 }),
    ];
    const tail = prependLive(stored, batch, { status: 5 });
    expect(tail.map((r) => r.rowKey)).toEqual([`key-${key(3)}`, `key-${key(1)}`, "id-1"]);
    expect(tail[0]!.live).toBe(true);
    expect(tail[0]!.record.user_id).toBe("u-1");
    // The same batch again (a redelivery) changes nothing.
    expect(prependLive(tail, batch, { status: 5 })).toBe(tail);
  });

  it("keeps at most the cap, dropping the oldest", () => {
    let tail = prependLive([], Array.from({ length: 8 }, (_, i) => accessRecord({ key: key(i) })), {}, 5);
    expect(tail.map((r) => r.rowKey)).toEqual([7, 6, 5, 4, 3].map((i) => `key-${key(i)}`));
    tail = prependLive(tail, [accessRecord({ key: key(100) })], {}, 5);
    expect(tail).toHaveLength(5);
    expect(tail[0]!.rowKey).toBe(`key-${key(100)}`);
    expect(tail[4]!.rowKey).toBe(`key-${key(4)}`);
    expect(TAIL_CAP).toBe(500);
  });
});
