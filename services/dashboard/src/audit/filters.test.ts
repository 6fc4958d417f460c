import { describe, expect, it } from "vitest";
import {
  accessFiltersQuery,
  accessQuery,
  deadLetterFiltersQuery,
  deadLettersHref,
  deadLettersQuery,
  logsHref,
  NO_ACCESS_FILTERS,
  parseAccessFilters,
  parseDeadLetterFilters,
  parseStatus,
  parseTaskFilters,
  parseTraceId,
  rangeBounds,
  taskFiltersQuery,
  tasksHref,
  tasksQuery,
  traceHref,
} from "./filters";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const NOW = Date.parse("2025-03-01T12:00:00Z");

describe("the access log's filters and the URL", () => {
  it("round-trips every filter through the query string", () => {
    const filters = {
      range: { id: "custom" as const, from: 1_700_000_000_000, to: 1_700_000_600_000 },
      status: "5xx",
      method: "POST",
      path: "/api/v1/metrics/import",
      user: "u-1",
      ip: "10.0.0.7",
      trace: TRACE,
      service: "ingest",
    };
    const query = accessFiltersQuery(filters);
    expect(query).toBe(
      `range=custom&from=1700000000000&to=1700000600000&status=5xx&method=POST&path=%2Fapi%2Fv1%2Fmetrics%2Fimport&user=u-1&ip=10.0.0.7&trace=${TRACE}&service=ingest`,
    );
    expect(parseAccessFilters(query)).toEqual(filters);
  });

  it("leaves the defaults out of the URL, and reads an empty or unknown query as the defaults", () => {
    expect(accessFiltersQuery(NO_ACCESS_FILTERS)).toBe("");
    expect(logsHref()).toBe("#/admin/logs");
    expect(logsHref({ status: "404" })).toBe("#/admin/logs?status=404");
    expect(parseAccessFilters("")).toEqual(NO_ACCESS_FILTERS);
    expect(parseAccessFilters("range=2y&bogus=1")).toEqual(NO_ACCESS_FILTERS);
    // A custom range without ends, or with them the wrong way round, is the default.
    expect(parseAccessFilters("range=custom").range).toEqual({ id: "24h" });
    expect(parseAccessFilters("range=custom&from=9&to=5").range).toEqual({ id: "24h" });
    expect(parseAccessFilters("range=custom&from=9").range).toEqual({ id: "custom", from: 9, to: null });
  });

  it("trims, caps and upper-cases what it reads", () => {
    const filters = parseAccessFilters(`method=get&path=${"x".repeat(600)}&user=%20ada%20`);
    expect(filters.method).toBe("GET");
    expect(filters.path).toHaveLength(500);
    expect(filters.user).toBe("ada");
  });

  it("turns the filters into the API's query, a preset range counted back from now", () => {
    const { query } = accessQuery(
      { ...NO_ACCESS_FILTERS, range: { id: "1h" }, status: "4xx", method: "post", trace: TRACE.toUpperCase(), ip: " 10.0.0.7 " },
      NOW,
    );
    expect(query).toEqual({
      since: "2025-03-01T11:00:00.000Z",
      status: 4,
      method: "POST",
      trace_id: TRACE,
      ip_address: "10.0.0.7",
    });
    expect(accessQuery({ ...NO_ACCESS_FILTERS, range: { id: "all" }, status: "503" }, NOW).query).toEqual({ status: 503 });
  });

  it("refuses a status or trace id that is not one, naming the field", () => {
    const checked = accessQuery({ ...NO_ACCESS_FILTERS, status: "teapot", trace: "xyz" }, NOW);
    expect(checked.query).toBeNull();
    expect(checked.errors).toEqual({
      status: "A status code (404) or a class (4xx).",
      trace: "32 hexadecimal digits, or a whole traceparent header.",
    });
  });
});

describe("status and trace id filters", () => {
  it.each([
    ["", undefined],
    ["404", 404],
    ["4xx", 4],
    ["5XX", 5],
    ["2", 2],
    [" 201 ", 201],
    ["600", null],
    ["6xx", null],
    ["40", null],
    ["4x", null],
    ["abc", null],
  ])("status %j → %j", (text, expected) => {
    expect(parseStatus(text)).toBe(expected);
  });

  it("takes a trace id or a whole traceparent header", () => {
    expect(parseTraceId("")).toBeUndefined();
    expect(parseTraceId(TRACE)).toBe(TRACE);
    expect(parseTraceId(` ${TRACE.toUpperCase()} `)).toBe(TRACE);
    expect(parseTraceId(`00-${TRACE}-00f067aa0ba902b7-01`)).toBe(TRACE);
    expect(parseTraceId(TRACE.slice(1))).toBeNull();
    expect(parseTraceId(`${TRACE}0`)).toBeNull();
    expect(parseTraceId("g".repeat(32))).toBeNull();
  });
});

describe("time ranges", () => {
  it("gives since for a preset, both ends (or one) for a custom range, nothing for any time", () => {
    expect(rangeBounds({ id: "15m" }, NOW)).toEqual({ since: "2025-03-01T11:45:00.000Z" });
    expect(rangeBounds({ id: "7d" }, NOW)).toEqual({ since: "2025-02-22T12:00:00.000Z" });
    expect(rangeBounds({ id: "all" }, NOW)).toEqual({});
    expect(rangeBounds({ id: "custom", from: NOW, to: null }, 0)).toEqual({ since: "2025-03-01T12:00:00.000Z" });
    expect(rangeBounds({ id: "custom", from: null, to: NOW }, 0)).toEqual({ until: "2025-03-01T12:00:00.000Z" });
  });
});

describe("task runs' filters", () => {
  it("round-trips through the URL with the tab, and becomes the API's query", () => {
    const href = tasksHref({ task: "metrics.import", outcome: "FAILED", range: { id: "7d" } });
    expect(href).toBe("#/admin/logs?tab=tasks&range=7d&task=metrics.import&outcome=FAILED");
    const filters = parseTaskFilters(href.split("?")[1]!);
    expect(filters).toEqual({ range: { id: "7d" }, task: "metrics.import", outcome: "FAILED" });
    expect(taskFiltersQuery(filters)).toBe("tab=tasks&range=7d&task=metrics.import&outcome=FAILED");
    expect(tasksQuery(filters, NOW)).toEqual({
      since: "2025-02-22T12:00:00.000Z",
      task_name: "metrics.import",
      status: "FAILED",
    });
    expect(parseTaskFilters("outcome=EXPLODED").outcome).toBe("");
  });
});

describe("dead letters' filters", () => {
  it("opens on the pending ones; any status is written as such", () => {
    expect(deadLettersHref()).toBe("#/admin/dead-letters");
    expect(parseDeadLetterFilters("")).toEqual({ status: "pending", origin: "", trace: "" });
    expect(deadLetterFiltersQuery({ status: "", origin: "ingest", trace: TRACE })).toBe(`status=any&origin=ingest&trace=${TRACE}`);
    expect(parseDeadLetterFilters(`status=any&origin=ingest&trace=${TRACE}`)).toEqual({ status: "", origin: "ingest", trace: TRACE });
    expect(parseDeadLetterFilters("status=replayed").status).toBe("replayed");
    expect(parseDeadLetterFilters("status=eaten").status).toBe("pending");
  });

  it("becomes the API's query, or says the trace id is wrong", () => {
    expect(deadLettersQuery({ status: "pending", origin: " ingest ", trace: "" }).query).toEqual({ status: "pending", origin: "ingest" });
    expect(deadLettersQuery({ status: "", origin: "", trace: TRACE }).query).toEqual({ trace_id: TRACE });
    expect(deadLettersQuery({ status: "", origin: "", trace: "nope" }).errors).toEqual({
      trace: "32 hexadecimal digits, or a whole traceparent header.",
    });
  });

  it("links to a trace's page", () => {
    expect(traceHref(TRACE)).toBe(`#/traces/${TRACE}`);
  });
});
