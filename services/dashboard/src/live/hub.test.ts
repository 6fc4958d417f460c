import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ClientFrame, MetricsHistory, ServerFrame } from "../api/gateway.gen";
import { LiveHub, type FetchHistory, type HistoryQuery, type Need, type SocketPort } from "./hub";
import { SeriesStore } from "./store";

const CHANNEL = "series:web1:cpu";
const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
const iso = (second: number): string => new Date(T0 + second * 1000).toISOString();

class FakePort implements SocketPort {
  ready = true;
  sent: ClientFrame[] = [];
  send(frame: ClientFrame): boolean {
    if (!this.ready) return false;
    this.sent.push(frame);
    return true;
  }
  isReady(): boolean {
    return this.ready;
  }
}

function data(seq: number, ...seconds: number[]): ServerFrame {
  return {
    type: "data",
    channel: CHANNEL,
    seq,
    source: "web1",
    name: "cpu",
    points: seconds.map((s) => ({ time: iso(s), value: s })),
  };
}

function rawHistory(...seconds: number[]): MetricsHistory {
  return {
    series: seconds.map((s) => ({ timestamp: iso(s), value: s, type: "cpu", source: "web1", min: s, max: s, avg: s, count: 1 })),
    resolution: "raw",
    bucket_seconds: null,
  };
}

function setup(fetchHistory: FetchHistory = vi.fn()) {
  const port = new FakePort();
  const store = new SeriesStore({ schedule: (flush) => flush(), isHidden: () => false });
  const onError = vi.fn();
  const hub = new LiveHub(port, store, fetchHistory, { onError });
  return { port, store, hub, onError };
}

const RAW: Need = { minutes: 5, maxPoints: 10_000, raw: true, maxRate: null };
const SPARK: Need = { minutes: 15, maxPoints: 300, raw: false, maxRate: 1 };

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0 + 60_000);
});

afterEach(() => {
  vi.useRealTimers();
});

describe("gap handling", () => {
  it("fetches exactly the missing span from REST and merges it", async () => {
    const fetchHistory = vi.fn<FetchHistory>(async () => rawHistory(3, 4, 5, 6, 7, 8));
    const { hub, store } = setup(fetchHistory);
    hub.acquire("web1", "cpu", RAW);
    hub.onFrame({ type: "subscribed", channel: CHANNEL, seq: 10 });
    hub.onFrame(data(11, 1));
    hub.onFrame(data(12, 2)); // the last point before the gap
    hub.onFrame({ type: "gap", channel: CHANNEL, after_seq: 12, before_seq: 30, reason: "slow consumer" });
    expect(fetchHistory).not.toHaveBeenCalled(); // waits for the first point after the gap
    hub.onFrame(data(31, 9));

    expect(fetchHistory).toHaveBeenCalledTimes(1);
    const query: HistoryQuery = fetchHistory.mock.calls[0]![0];
    expect(query).toEqual({
      name: "cpu",
      source: "web1",
      from: iso(2), // last point before the gap (inclusive)
      to: iso(9), // first point after it (exclusive)
      max_points: 10_000,
    });
    await vi.advanceTimersByTimeAsync(0);
    const buffer = store.get("web1:cpu")!;
    expect(buffer.t).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => T0 + s * 1000));
    expect(buffer.avg).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(hub.lastSeq(CHANNEL)).toBe(31);
  });

  it("fetches up to now when no frame follows the gap in time", async () => {
    const fetchHistory = vi.fn<FetchHistory>(async () => rawHistory(3));
    const { hub } = setup(fetchHistory);
    hub.acquire("web1", "cpu", RAW);
    hub.onFrame({ type: "subscribed", channel: CHANNEL, seq: 10 });
    hub.onFrame(data(11, 2));
    hub.onFrame({ type: "gap", channel: CHANNEL, after_seq: 11, before_seq: 20, reason: "x" });
    await vi.advanceTimersByTimeAsync(4_999);
    expect(fetchHistory).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(fetchHistory).toHaveBeenCalledTimes(1);
    expect(fetchHistory.mock.calls[0]![0]).toMatchObject({ from: iso(2), to: new Date(T0 + 65_000).toISOString() });
  });

  it("merges a bucketed gap answer without erasing the raw points around it", async () => {
    const fetchHistory = vi.fn<FetchHistory>(async () => ({
      series: [
        { timestamp: iso(0), value: 50, type: "cpu", source: "web1", min: 40, max: 60, avg: 50, count: 10 },
        { timestamp: iso(10), value: 55, type: "cpu", source: "web1", min: 45, max: 65, avg: 55, count: 10 },
        { timestamp: iso(20), value: 52, type: "cpu", source: "web1", min: 42, max: 62, avg: 52, count: 10 },
      ],
      resolution: "10s",
      bucket_seconds: 10,
    }));
    const { hub, store } = setup(fetchHistory);
    hub.acquire("web1", "cpu", RAW);
    hub.onFrame({ type: "subscribed", channel: CHANNEL, seq: 1 });
    hub.onFrame(data(2, 1, 2, 3));
    hub.onFrame({ type: "gap", channel: CHANNEL, after_seq: 2, before_seq: 9, reason: "x" });
    hub.onFrame(data(9, 25));
    await vi.advanceTimersByTimeAsync(0);
    const buffer = store.get("web1:cpu")!;
    // Bucket 0 s is covered by raw points from its start: dropped; 10 s and 20 s fill the gap.
    expect(buffer.t.map((t) => (t - T0) / 1000)).toEqual([1, 2, 3, 10, 20, 25]);
    expect(buffer.w).toEqual([0, 0, 0, 10_000, 10_000, 0]);
    expect(buffer.min[3]).toBe(45);
  });
});

describe("reference-counted subscriptions", () => {
  it("unsubscribes only when no view has used the channel for 10 s", async () => {
    const { hub, port } = setup();
    const release = hub.acquire("web1", "cpu", SPARK);
    expect(port.sent).toEqual([
      { type: "subscribe", channel: CHANNEL, max_rate: 1, history: { minutes: 15, max_points: 300 } },
    ]);
    hub.onFrame({ type: "subscribed", channel: CHANNEL, seq: 5, max_rate: 1, history: { start: iso(-840), bucket_s: 3, series: [] } });
    release();
    release(); // twice is harmless
    await vi.advanceTimersByTimeAsync(5_000);
    const again = hub.acquire("web1", "cpu", SPARK); // quick navigation back
    await vi.advanceTimersByTimeAsync(20_000);
    expect(port.sent).toHaveLength(1); // no unsubscribe, no second subscribe
    again();
    await vi.advanceTimersByTimeAsync(9_999);
    expect(port.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(port.sent.at(-1)).toEqual({ type: "unsubscribe", channel: CHANNEL });
    expect(hub.channelNames()).toEqual([]);
  });

  it("resubscribes with raw history when a view needs more than the live subscription gives", () => {
    const { hub, port } = setup();
    hub.acquire("web1", "cpu", SPARK);
    hub.onFrame({ type: "subscribed", channel: CHANNEL, seq: 5, max_rate: 1, history: { start: iso(-840), bucket_s: 3, series: [] } });
    hub.acquire("web1", "cpu", RAW); // the detail page: raw, every frame
    expect(port.sent.slice(1)).toEqual([
      { type: "unsubscribe", channel: CHANNEL },
      // Both views' needs: 15 minutes, raw, no rate cap.
      { type: "subscribe", channel: CHANNEL, history: { minutes: 15, max_points: 10_000 } },
    ]);
    hub.onFrame({ type: "unsubscribed", channel: CHANNEL });
    hub.onFrame({ type: "subscribed", channel: CHANNEL, seq: 9, history: { start: iso(-840), bucket_s: 0, series: [] } });
    // A third view with a need that is covered changes nothing.
    hub.acquire("web1", "cpu", { minutes: 1, maxPoints: 60, raw: false, maxRate: 1 });
    expect(port.sent).toHaveLength(3);
    expect(hub.status("web1", "cpu")).toEqual({ state: "live" });
  });

  it("reports a refused channel as an error", () => {
    const { hub, onError } = setup();
    hub.acquire("web1", "cpu", RAW);
    hub.onFrame({ type: "error", code: "forbidden", message: "the user role may not watch it", channel: CHANNEL });
    expect(hub.status("web1", "cpu")).toEqual({ state: "error", message: "the user role may not watch it" });
    expect(onError).toHaveBeenCalledWith(`${CHANNEL}: the user role may not watch it`);
  });
});
