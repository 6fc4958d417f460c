/**
 * What the series detail page draws, without React: the range (live windows from the socket,
 * longer ones from REST with the socket continuing at the right edge), drag-to-zoom, and the
 * points of the visible window for the chart and its table.
 *
 * - Live 5 min, 15 min, 1 h: the shared store's buffer (socket history of raw points, then
 *   live frames); the window slides.
 * - 24 h, 7 d, custom: REST with max_points ≈ the plot's width into a buffer of this view,
 *   plus the store's live points as they arrive (not for a custom range that ends in the past).
 * - Zoom: REST for the selected span at a matching resolution; live points keep arriving at
 *   the right edge when the selection reaches the present.
 *
 * Listeners are told at most once per store flush (an animation frame).
 */
import { errorMessage } from "../api/http";
import { resolutionLabel } from "../format";
import { SeriesBuffer } from "./buffer";
import { historyBatch, historyWidthMs, type FetchHistory, type LiveHub, type Need } from "./hub";
import { seriesKey, type SeriesStore } from "./store";
import { isoTime } from "./time";

export type RangeId = "live5m" | "15m" | "1h" | "24h" | "7d" | "custom";

export const RANGES: ReadonlyArray<{ id: RangeId; label: string; minutes: number; socket: boolean }> = [
  { id: "live5m", label: "Live 5 min", minutes: 5, socket: true },
  { id: "15m", label: "15 min", minutes: 15, socket: true },
  { id: "1h", label: "1 h", minutes: 60, socket: true },
  { id: "24h", label: "24 h", minutes: 1440, socket: false },
  { id: "7d", label: "7 d", minutes: 10080, socket: false },
  { id: "custom", label: "Custom", minutes: 0, socket: false },
];

export interface RangeSpec {
  id: RangeId;
  /** Custom range, epoch ms. */
  from?: number;
  to?: number;
}

export type ChartData = [number[], number[], number[], number[]];

export interface ChartFrame {
  state: "loading" | "ready" | "error";
  error: string | null;
  xMin: number;
  xMax: number;
  /** Time (ms), avg, min, max. */
  data: ChartData;
  /** Bucket width (ms) of each point; 0: raw. */
  widths: number[];
  resolution: string;
  points: number;
  zoomed: boolean;
}

export interface HubPort {
  acquire: LiveHub["acquire"];
  status: LiveHub["status"];
}

export interface SeriesViewDeps {
  store: SeriesStore;
  hub: HubPort;
  fetchHistory: FetchHistory;
  now?: () => number;
}

/** How close to now a range or selection must end to count as reaching the present. */
const PRESENT_SLACK_MS = 60_000;
const TICK_MS = 5_000;

export function maxPointsFor(plotWidth: number): number {
  return Math.round(Math.min(2000, Math.max(300, plotWidth)));
}

interface Zoom {
  from: number;
  to: number;
  follows: boolean;
  buffer: SeriesBuffer;
  loading: boolean;
  error: string | null;
  abort: AbortController;
}

export class SeriesView {
  readonly key: string;
  private range: RangeSpec = { id: "live5m" };
  private plotWidth = 800;
  private own = new SeriesBuffer();
  private restLoading = false;
  private restError: string | null = null;
  private restAbort: AbortController | null = null;
  private everLive = false;
  private zoomState: Zoom | null = null;
  private releaseHub: (() => void) | null = null;
  private readonly listeners = new Set<() => void>();
  private readonly stopStore: () => void;
  private readonly ticker: ReturnType<typeof setInterval>;
  private readonly now: () => number;
  private cache: ChartFrame | null = null;
  private disposed = false;

  constructor(
    private readonly deps: SeriesViewDeps,
    readonly source: string,
    readonly name: string,
  ) {
    this.key = seriesKey(source, name);
    this.now = deps.now ?? Date.now;
    this.stopStore = deps.store.listen(this.key, (_, changedFrom) => this.onStore(changedFrom));
    // Let a live window slide even when no point arrives.
    this.ticker = setInterval(() => {
      if (this.followsLive()) this.changed();
    }, TICK_MS);
  }

  getRange(): RangeSpec {
    return this.range;
  }

  setPlotWidth(width: number): void {
    if (width > 0) this.plotWidth = width;
  }

  setRange(range: RangeSpec, plotWidth = this.plotWidth): void {
    this.setPlotWidth(plotWidth);
    this.range = range;
    this.clearZoom();
    this.restAbort?.abort();
    this.restAbort = null;
    this.own = new SeriesBuffer();
    this.restError = null;
    this.restLoading = false;
    this.everLive = false;
    const previous = this.releaseHub;
    this.releaseHub = null;

    const spec = RANGES.find((r) => r.id === range.id)!;
    if (spec.socket) {
      this.releaseHub = this.deps.hub.acquire(this.source, this.name, {
        minutes: spec.minutes,
        maxPoints: 10_000,
        raw: true,
        maxRate: null,
      });
    } else {
      const [from, to] = this.restWindow();
      if (!(from < to)) {
        this.restError = "From must be earlier than To.";
      } else {
        if (this.followsLive()) {
          const need: Need = { minutes: 5, maxPoints: 300, raw: false, maxRate: null };
          this.releaseHub = this.deps.hub.acquire(this.source, this.name, need);
          const live = this.deps.store.get(this.key);
          if (live) this.own.mergeFrom(live, from, Infinity);
        }
        this.loadRest(from, to);
      }
    }
    previous?.();
    this.changed();
  }

  /** Shows [from, to] (a drag selection) at a resolution matching the plot's width. */
  zoom(from: number, to: number, plotWidth = this.plotWidth): void {
    if (!(to > from)) return;
    this.setPlotWidth(plotWidth);
    this.clearZoom();
    const follows = to >= this.now() - PRESENT_SLACK_MS && this.baseFollowsLive();
    const buffer = new SeriesBuffer();
    buffer.mergeFrom(this.baseBuffer(), from, to); // something to show at once
    const zoom: Zoom = { from, to, follows, buffer, loading: true, error: null, abort: new AbortController() };
    this.zoomState = zoom;
    this.deps
      .fetchHistory(
        {
          name: this.name,
          source: this.source,
          from: isoTime(from),
          to: isoTime(follows ? Math.max(to, this.now()) : to),
          max_points: maxPointsFor(this.plotWidth),
        },
        zoom.abort.signal,
      )
      .then(
        (answer) => {
          if (this.zoomState !== zoom) return;
          // The answer replaces the coarse placeholder; live points (finer) are kept.
          const buffer = new SeriesBuffer();
          buffer.merge(historyBatch(answer, this.source), historyWidthMs(answer));
          const live = this.deps.store.get(this.key);
          if (live) buffer.mergeFrom(live, from, zoom.follows ? Infinity : to);
          zoom.buffer = buffer;
          zoom.loading = false;
          this.changed();
        },
        (error: unknown) => {
          if (this.zoomState !== zoom || zoom.abort.signal.aborted) return;
          zoom.loading = false;
          zoom.error = errorMessage(error);
          this.changed();
        },
      );
    this.changed();
  }

  resetZoom(): void {
    if (!this.zoomState) return;
    this.clearZoom();
    this.changed();
  }

  isZoomed(): boolean {
    return this.zoomState !== null;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** The latest point of the series (live), whatever the range. */
  latest(): { time: number; value: number } | null {
    return this.deps.store.get(this.key)?.latest() ?? null;
  }

  frame(): ChartFrame {
    if (this.cache) return this.cache;
    const now = this.now();
    const zoom = this.zoomState;
    let buffer: SeriesBuffer;
    let xMin: number;
    let xMax: number;
    let state: ChartFrame["state"];
    let error: string | null = null;
    const spec = RANGES.find((r) => r.id === this.range.id)!;
    if (zoom) {
      buffer = zoom.buffer;
      xMin = zoom.from;
      xMax = zoom.follows ? Math.max(zoom.to, now) : zoom.to;
      state = zoom.error ? "error" : zoom.loading ? "loading" : "ready";
      error = zoom.error;
    } else if (spec.socket) {
      buffer = this.deps.store.get(this.key) ?? new SeriesBuffer();
      xMax = now;
      xMin = now - spec.minutes * 60_000;
      const status = this.deps.hub.status(this.source, this.name);
      if (status.state === "live") this.everLive = true;
      if (status.state === "error" && !this.everLive) {
        state = "error";
        error = status.message;
      } else {
        state = this.everLive ? "ready" : "loading";
      }
    } else {
      buffer = this.own;
      [xMin, xMax] = this.restWindow();
      state = this.restError ? "error" : this.restLoading ? "loading" : "ready";
      error = this.restError;
    }
    // One point before the window too, so the line reaches the left edge (a bucket that
    // starts before the window covers part of it).
    const i = Math.max(0, buffer.lowerBound(xMin) - 1);
    const j = buffer.upperBound(xMax);
    const data: ChartData = [
      buffer.t.slice(i, j),
      buffer.avg.slice(i, j),
      buffer.min.slice(i, j),
      buffer.max.slice(i, j),
    ];
    this.cache = {
      state,
      error,
      xMin,
      xMax,
      data,
      widths: buffer.w.slice(i, j),
      resolution: resolutionLabel(buffer.coarsestWidth(xMin, xMax)),
      points: j - i,
      zoomed: zoom !== null,
    };
    return this.cache;
  }

  /** The latest `count` points of the visible window, newest first (the chart's table). */
  rows(count: number): Array<{ time: number; avg: number; min: number; max: number; widthMs: number }> {
    const frame = this.frame();
    const [t, avg, min, max] = frame.data;
    const rows = [];
    for (let k = t.length - 1; k >= 0 && rows.length < count; k--) {
      rows.push({ time: t[k]!, avg: avg[k]!, min: min[k]!, max: max[k]!, widthMs: frame.widths[k]! });
    }
    return rows;
  }

  dispose(): void {
    this.disposed = true;
    this.stopStore();
    clearInterval(this.ticker);
    this.restAbort?.abort();
    this.clearZoom();
    this.releaseHub?.();
    this.releaseHub = null;
    this.listeners.clear();
  }

  // -- internals -----------------------------------------------------------------------------

  private restWindow(): [number, number] {
    const now = this.now();
    if (this.range.id === "custom") {
      const from = this.range.from ?? now - 3_600_000;
      const to = this.range.to ?? now;
      return [from, this.customFollows(to) ? Math.max(to, now) : to];
    }
    const spec = RANGES.find((r) => r.id === this.range.id)!;
    return [now - spec.minutes * 60_000, now];
  }

  private customFollows(to: number): boolean {
    return to >= this.now() - PRESENT_SLACK_MS;
  }

  /** Whether the range (not the zoom) reaches the present. */
  private baseFollowsLive(): boolean {
    if (this.range.id !== "custom") return true;
    return this.customFollows(this.range.to ?? this.now());
  }

  private followsLive(): boolean {
    return this.zoomState ? this.zoomState.follows : this.baseFollowsLive();
  }

  private baseBuffer(): SeriesBuffer {
    const spec = RANGES.find((r) => r.id === this.range.id)!;
    return spec.socket ? (this.deps.store.get(this.key) ?? new SeriesBuffer()) : this.own;
  }

  private loadRest(from: number, to: number): void {
    const abort = new AbortController();
    this.restAbort = abort;
    this.restLoading = true;
    const own = this.own;
    this.deps
      .fetchHistory(
        {
          name: this.name,
          source: this.source,
          from: isoTime(from),
          to: isoTime(to),
          max_points: maxPointsFor(this.plotWidth),
        },
        abort.signal,
      )
      .then(
        (answer) => {
          if (this.own !== own || abort.signal.aborted) return;
          own.merge(historyBatch(answer, this.source), historyWidthMs(answer));
          this.restLoading = false;
          this.changed();
        },
        (error: unknown) => {
          if (this.own !== own || abort.signal.aborted) return;
          this.restLoading = false;
          this.restError = errorMessage(error);
          this.changed();
        },
      );
  }

  private onStore(changedFrom: number): void {
    const live = this.deps.store.get(this.key);
    const spec = RANGES.find((r) => r.id === this.range.id)!;
    if (live && !spec.socket && this.baseFollowsLive()) {
      const [from] = this.restWindow();
      this.own.mergeFrom(live, Math.max(from, changedFrom), Infinity);
      this.own.trimBefore(from - 60_000);
    }
    const zoom = this.zoomState;
    if (live && zoom?.follows) zoom.buffer.mergeFrom(live, Math.max(zoom.from, changedFrom), Infinity);
    this.changed();
  }

  private clearZoom(): void {
    this.zoomState?.abort.abort();
    this.zoomState = null;
  }

  private changed(): void {
    this.cache = null;
    if (this.disposed) return;
    for (const listener of [...this.listeners]) listener();
  }
}
