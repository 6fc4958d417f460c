import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { MetricsHistory } from "../api/gateway.gen";
import type { FetchHistory, HistoryQuery, Need } from "./hub";
import { SeriesView, maxPointsFor, type HubPort } from "./seriesView";
import { SeriesStore } from "./store";

const NOW = Date.UTC(2026, 0, 10, 12, 0, 0);
const MIN = 60_000;

function buckets(fromMs: number, count: number, widthS: number): MetricsHistory {
  return {
    series: Array.from({ length: count }, (_, k) => ({
      timestamp: new Date(fromMs + k * widthS * 1000).toISOString(),
      value: k,
      avg: k,
      min: k - 1,
      max: k + 1,
      count: widthS,
      type: "cpu",
      source: "web1",
    })),
    resolution: widthS % 60 === 0 ? `${widthS / 60}m` : `${widthS}s`,
    bucket_seconds: widthS,
  };
}

function setup(answer: (q: HistoryQuery) => MetricsHistory) {
  const store = new SeriesStore({ schedule: (flush) => flush(), isHidden: () => false, now: () => Date.now() });
  const needs: Need[] = [];
  const releases = vi.fn();
  let live = false;
  const hub: HubPort = {
    acquire: (_source, _name, need) => {
      needs.push(need);
      return releases;
    },
    status: () => (live ? { state: "live" } : { state: "pending" }),
  };
  const fetchHistory = vi.fn<FetchHistory>(async (q) => answer(q));
  const view = new SeriesView({ store, hub, fetchHistory }, "web1", "cpu");
  return { store, hub, needs, releases, fetchHistory, view, setLive: (v: boolean) => (live = v) };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(NOW);
});

afterEach(() => {
  vi.useRealTimers();
});

describe("SeriesView", () => {
  it("uses the socket (raw history) for live ranges and slides the window", () => {
    const { view, needs, store, setLive, fetchHistory } = setup(() => buckets(0, 0, 1));
    view.setRange({ id: "live5m" }, 900);
    expect(needs).toEqual([{ minutes: 5, maxPoints: 10_000, raw: true, maxRate: null }]);
    expect(view.frame().state).toBe("loading");
    store.merge("web1:cpu", { t: [NOW - 6 * MIN, NOW - 2000, NOW - 1000], avg: [1, 2, 3] }, 0);
    setLive(true);
    store.touch("web1:cpu");
    const frame = view.frame();
    expect(frame.state).toBe("ready");
    expect(frame.resolution).toBe("raw");
    // The 6-minute-old point is outside the window; it is kept as the one point before it,
    // so the line reaches the left edge.
    expect(frame.points).toBe(3);
    expect(frame.data[1]).toEqual([1, 2, 3]);
    expect(frame.xMax - frame.xMin).toBe(5 * MIN);
    expect(fetchHistory).not.toHaveBeenCalled();
  });

  it("loads 24 h from REST at the plot's width and appends live points at the right edge", async () => {
    const { view, store, fetchHistory, needs } = setup(() => buckets(NOW - 24 * 60 * MIN, 720, 120));
    view.setRange({ id: "24h" }, 1100);
    expect(fetchHistory).toHaveBeenCalledTimes(1);
    expect(fetchHistory.mock.calls[0]![0]).toEqual({
      name: "cpu",
      source: "web1",
      from: new Date(NOW - 24 * 60 * MIN).toISOString(),
      to: new Date(NOW).toISOString(),
      max_points: 1100,
    });
    expect(needs[0]!.raw).toBe(false);
    expect(view.frame().state).toBe("loading");
    await vi.advanceTimersByTimeAsync(0);
    let frame = view.frame();
    expect(frame.state).toBe("ready");
    expect(frame.resolution).toBe("2m");
    expect(frame.points).toBe(720);

    vi.setSystemTime(NOW + 1000);
    store.merge("web1:cpu", { t: [NOW + 500], avg: [42] }, 0);
    frame = view.frame();
    expect(frame.points).toBe(721);
    expect(frame.data[0].at(-1)).toBe(NOW + 500);
    expect(frame.data[1].at(-1)).toBe(42);
  });

  it("does not append live points to a custom range that ends in the past", async () => {
    const from = NOW - 3 * 60 * MIN;
    const to = NOW - 2 * 60 * MIN;
    const { view, store, needs, fetchHistory } = setup(() => buckets(from, 60, 60));
    view.setRange({ id: "custom", from, to }, 600);
    expect(needs).toEqual([]); // no live subscription for it
    expect(fetchHistory.mock.calls[0]![0]).toMatchObject({
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      max_points: 600,
    });
    await vi.advanceTimersByTimeAsync(0);
    store.merge("web1:cpu", { t: [NOW], avg: [1] }, 0);
    const frame = view.frame();
    expect(frame.points).toBe(60);
    expect(frame.xMin).toBe(from);
    expect(frame.xMax).toBe(to);
  });

  it("refuses a custom range whose start is not before its end", () => {
    const { view, fetchHistory } = setup(() => buckets(0, 0, 1));
    view.setRange({ id: "custom", from: NOW - MIN, to: NOW - 2 * MIN });
    expect(view.frame().state).toBe("error");
    expect(view.frame().error).toBe("From must be earlier than To.");
    expect(fetchHistory).not.toHaveBeenCalled();
  });

  it("zooms into a span with a REST query at a matching resolution, and resets", async () => {
    const from = NOW - 7 * 24 * 60 * MIN;
    const { view, fetchHistory } = setup((q) =>
      q.max_points === 1000 && q.from === new Date(from).toISOString()
        ? buckets(from, 1008, 600)
        : buckets(Date.parse(q.from), 360, 10),
    );
    view.setRange({ id: "7d" }, 1000);
    await vi.advanceTimersByTimeAsync(0);
    expect(view.frame().resolution).toBe("10m");

    const zoomFrom = NOW - 3 * 60 * MIN;
    const zoomTo = NOW - 2 * 60 * MIN;
    view.zoom(zoomFrom, zoomTo, 1000);
    expect(fetchHistory.mock.calls[1]![0]).toEqual({
      name: "cpu",
      source: "web1",
      from: new Date(zoomFrom).toISOString(),
      to: new Date(zoomTo).toISOString(),
      max_points: 1000,
    });
    expect(view.frame().state).toBe("loading");
    await vi.advanceTimersByTimeAsync(0);
    const zoomed = view.frame();
    expect(zoomed.zoomed).toBe(true);
    expect(zoomed.state).toBe("ready");
    expect(zoomed.resolution).toBe("10s");
    expect(zoomed.xMin).toBe(zoomFrom);
    expect(zoomed.xMax).toBe(zoomTo);
    // The answer's 10 s buckets for the hour replace the coarse placeholder entirely.
    expect(zoomed.points).toBe(360);
    expect(zoomed.data[0][0]).toBe(zoomFrom);

    view.resetZoom();
    expect(view.frame().zoomed).toBe(false);
    expect(view.frame().resolution).toBe("10m");
  });

  it("maps plot widths to max_points within 300..2000", () => {
    expect(maxPointsFor(120)).toBe(300);
    expect(maxPointsFor(1234.4)).toBe(1234);
    expect(maxPointsFor(5000)).toBe(2000);
  });
});
