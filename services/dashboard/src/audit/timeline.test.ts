import { describe, expect, it } from "vitest";
import { accessItem, stepItem, TRACE } from "../test/auditData";
import { buildTimeline, formatOffset, instantUs } from "./timeline";
import type { TraceItem } from "./types";

function story(items: TraceItem[], truncated = false) {
  return { type: "trace.story" as const, trace_id: TRACE, items, truncated };
}

describe("a trace's timeline", () => {
  it("puts the records in time order, to the microsecond, with offsets from the first", () => {
    const items: TraceItem[] = [
      stepItem({ id: 11, execution_order: 2, step_name: "validate", status: "SUCCESS", created_at: "2025-03-01T12:00:00.004500Z" }),
      accessItem({ id: 1, created_at: "2025-03-01T12:00:01.250Z" }),
      stepItem({ id: 10, execution_order: 1, created_at: "2025-03-01T12:00:00.004Z" }),
      { at: "2025-03-01T12:00:00.004200Z", kind: "dead_letter", dead_letter: {
        id: 3, origin: "ingest", reason: "bad row", trace_id: TRACE, status: "pending",
        received_at: "2025-03-01T12:00:00.004200Z", size: 10, preview: "x",
      } },
    ];
    const timeline = buildTimeline(story(items));
    expect(timeline.entries.map((e) => e.key)).toEqual(["step-10", "dead_letter-3", "step-11", "access-1"]);
    expect(timeline.entries.map((e) => e.offsetMs)).toEqual([0, 0.2, 0.5, 1246]);
    expect(timeline.spanMs).toBe(1246);
    expect(timeline.firstFailure).toBeNull();
    expect(timeline.truncated).toBe(false);
  });

  it("keeps the steps of one run at the same instant in execution order, others where they are", () => {
    const at = "2025-03-01T12:00:00Z";
    const items = [
      stepItem({ id: 22, execution_order: 3, created_at: at }),
      accessItem({ id: 5, created_at: at }),
      stepItem({ id: 21, execution_order: 2, created_at: at }),
      stepItem({ id: 20, execution_order: 1, created_at: at }),
    ];
    expect(buildTimeline(story(items)).entries.map((e) => e.key)).toEqual(["step-20", "access-5", "step-21", "step-22"]);
  });

  it("picks out the failed steps, the first of them for the summary", () => {
    const items = [
      stepItem({ id: 1, execution_order: 1, created_at: "2025-03-01T12:00:00Z" }),
      stepItem({ id: 2, execution_order: 2, step_name: "write chunk 2", status: "FAILED", error_message: "row 51: not a number", created_at: "2025-03-01T12:00:00.5Z" }),
      stepItem({ id: 3, execution_order: 3, status: "FAILED", created_at: "2025-03-01T12:00:00.6Z" }),
    ];
    const timeline = buildTimeline(story(items, true));
    expect(timeline.entries.map((e) => e.failed)).toEqual([false, true, true]);
    expect(timeline.firstFailure?.key).toBe("step-2");
    expect(timeline.firstFailure?.item.step?.error_message).toBe("row 51: not a number");
    expect(timeline.truncated).toBe(true);
  });

  it("is empty for no records, and puts an unreadable time last", () => {
    expect(buildTimeline(story([]))).toEqual({ entries: [], spanMs: 0, firstFailure: null, truncated: false });
    const timeline = buildTimeline(story([stepItem({ id: 1, created_at: "soon" }), stepItem({ id: 2, task_id: "t2" })]));
    expect(timeline.entries.map((e) => [e.key, e.offsetMs])).toEqual([["step-2", 0], ["step-1", 0]]);
  });
});

describe("instants and offsets", () => {
  it("reads microseconds, with or without a fraction or a UTC offset", () => {
    expect(instantUs("2025-03-01T12:00:00Z")).toBe(Date.parse("2025-03-01T12:00:00Z") * 1000);
    expect(instantUs("2025-03-01T12:00:00.123456Z") - instantUs("2025-03-01T12:00:00Z")).toBe(123_456);
    expect(instantUs("2025-03-01T13:00:00.5+01:00")).toBe(instantUs("2025-03-01T12:00:00.500Z"));
    expect(instantUs("yesterday")).toBeNaN();
  });

  it.each([
    [0, "+0 ms"],
    [0.25, "+0.25 ms"],
    [4.26, "+4.3 ms"],
    [480.4, "+480 ms"],
    [1250, "+1.25 s"],
    [123_000, "+2 min 3 s"],
  ])("%s ms → %s", (ms, text) => {
    expect(formatOffset(ms)).toBe(text);
  });
});
