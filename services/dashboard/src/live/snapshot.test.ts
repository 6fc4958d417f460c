import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ClientFrame } from "../api/gateway.gen";
import { MemoryStorage } from "../test/fakes";
import { LiveHub, type SocketPort } from "./hub";
import {
  SNAPSHOT_KEY,
  applySnapshot,
  decodeRuns,
  encodeBuffer,
  loadSnapshot,
  saveSnapshot,
} from "./snapshot";
import { SeriesBuffer } from "./buffer";
import { SeriesStore } from "./store";

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0);
const MIN = 60_000;

function newStore(): SeriesStore {
  return new SeriesStore({ schedule: (flush) => flush(), isHidden: () => false, now: () => NOW });
}

class Port implements SocketPort {
  sent: ClientFrame[] = [];
  send(frame: ClientFrame): boolean {
    this.sent.push(frame);
    return true;
  }
  isReady(): boolean {
    return true;
  }
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(NOW);
});

afterEach(() => {
  vi.useRealTimers();
});

describe("session-storage snapshot", () => {
  it("round-trips buffers (raw and bucketed) and channel sequences", () => {
    const store = newStore();
    // Two hours of one-minute buckets, then raw points for the last 10 minutes.
    const bucketTimes = Array.from({ length: 110 }, (_, k) => NOW - 120 * MIN + k * MIN);
    store.merge(
      "web1:cpu",
      {
        t: bucketTimes,
        avg: bucketTimes.map((_, k) => k + 0.5),
        min: bucketTimes.map((_, k) => k),
        max: bucketTimes.map((_, k) => k + 1),
      },
      MIN,
    );
    const rawTimes = Array.from({ length: 600 }, (_, k) => NOW - 10 * MIN + k * 1000 + 123);
    store.merge("web1:cpu", { t: rawTimes, avg: rawTimes.map((_, k) => 20 + (k % 7) * 0.1) }, 0);
    store.setUnit("web1:cpu", "percent");
    store.merge("web1:mem", { t: [NOW - 5_000, NOW - 4_000], avg: [61.25, 61.5] }, 0);

    const port = new Port();
    const hub = new LiveHub(port, store, vi.fn());
    hub.acquire("web1", "cpu", { minutes: 5, maxPoints: 10_000, raw: true, maxRate: null });
    hub.onFrame({
      type: "subscribed",
      channel: "series:web1:cpu",
      seq: 1200,
      history: { start: new Date(NOW - 5 * MIN).toISOString(), bucket_s: 0, series: [] },
    });
    hub.onFrame({ type: "data", channel: "series:web1:cpu", seq: 1234, source: "web1", name: "cpu", points: [] });

    const storage = new MemoryStorage();
    expect(saveSnapshot(storage, store, hub.snapshot(), NOW)).toBe(true);

    // A reload, 2 minutes later.
    vi.setSystemTime(NOW + 2 * MIN);
    const snapshot = loadSnapshot(storage, NOW + 2 * MIN);
    expect(snapshot).not.toBeNull();
    const restored = newStore();
    const channels = applySnapshot(snapshot!, restored);
    const cpu = restored.get("web1:cpu")!;
    const original = store.get("web1:cpu")!;
    // Only the last hour is kept: buckets from NOW-60min on, and every raw point.
    const from = original.lowerBound(NOW - 60 * MIN);
    expect(cpu.t).toEqual(original.t.slice(from));
    expect(cpu.avg).toEqual(original.avg.slice(from));
    expect(cpu.min).toEqual(original.min.slice(from));
    expect(cpu.max).toEqual(original.max.slice(from));
    expect(cpu.w).toEqual(original.w.slice(from));
    expect(cpu.t[0]).toBe(NOW - 60 * MIN);
    expect(restored.unit("web1:cpu")).toBe("percent");
    expect(restored.get("web1:mem")!.avg).toEqual([61.25, 61.5]);
    expect(channels).toEqual({
      "series:web1:cpu": { lastSeq: 1234, rawFrom: NOW - 5 * MIN, anyFrom: NOW - 5 * MIN },
    });

    // The restored channel resumes from its sequence instead of asking for history.
    const port2 = new Port();
    const hub2 = new LiveHub(port2, restored, vi.fn());
    hub2.restore(channels, snapshot!.savedAt);
    hub2.acquire("web1", "cpu", { minutes: 5, maxPoints: 10_000, raw: true, maxRate: null });
    expect(port2.sent).toEqual([{ type: "subscribe", channel: "series:web1:cpu", resume_from: 1234 }]);
  });

  it("asks for history when the snapshot covers less than the view needs", () => {
    const store = newStore();
    const port = new Port();
    const hub = new LiveHub(port, store, vi.fn());
    hub.restore({ "series:web1:cpu": { lastSeq: 9, rawFrom: NOW - 2 * MIN, anyFrom: NOW - 2 * MIN } }, NOW);
    hub.acquire("web1", "cpu", { minutes: 15, maxPoints: 10_000, raw: true, maxRate: null });
    expect(port.sent).toEqual([
      { type: "subscribe", channel: "series:web1:cpu", history: { minutes: 15, max_points: 10_000 } },
    ]);
  });

  it("ignores snapshots older than 10 minutes and broken ones", () => {
    const storage = new MemoryStorage();
    const store = newStore();
    store.merge("a:b", { t: [NOW - 1000], avg: [1] }, 0);
    saveSnapshot(storage, store, {}, NOW);
    expect(loadSnapshot(storage, NOW + 9 * MIN)).not.toBeNull();
    expect(loadSnapshot(storage, NOW + 10 * MIN + 1)).toBeNull();
    storage.setItem(SNAPSHOT_KEY, "{not json");
    expect(loadSnapshot(storage, NOW)).toBeNull();
  });

  it("falls back to the last 15 minutes when the storage is nearly full", () => {
    const storage = new MemoryStorage();
    const store = newStore();
    const times = Array.from({ length: 3600 }, (_, k) => NOW - 3600_000 + k * 1000);
    store.merge("a:b", { t: times, avg: times.map((_, k) => k * 1.5) }, 0);
    const unlimited = new MemoryStorage();
    saveSnapshot(unlimited, store, {}, NOW);
    expect(unlimited.getItem(SNAPSHOT_KEY)!.length).toBeGreaterThan(12_000);
    storage.quota = 12_000; // too small for an hour, enough for 15 minutes
    expect(saveSnapshot(storage, store, {}, NOW)).toBe(true);
    const restored = decodeRuns(loadSnapshot(storage, NOW)!.series["a:b"]!.runs);
    expect(restored.length).toBe(900);
    expect(restored.t[0]).toBe(NOW - 15 * MIN);
  });

  it("encodes raw runs without min/max and decodes them exactly", () => {
    const buffer = new SeriesBuffer();
    buffer.merge({ t: [1000, 2000, 3500], avg: [0.1, 0.2, 0.3] }, 0);
    const runs = encodeBuffer(buffer, 0);
    expect(runs).toEqual([[0, 1000, [1000, 1500], [0.1, 0.2, 0.3]]]);
    const back = decodeRuns(runs);
    expect(back.t).toEqual([1000, 2000, 3500]);
    expect(back.min).toEqual([0.1, 0.2, 0.3]);
  });
});
