/**
 * uPlot behind a small API: a sparkline (the average only) or the detail chart (the average as
 * a line, min/max as a shaded band, drag to zoom). Data is pushed with `setData` from the
 * store's animation-frame flush; the x window is fixed by the caller (it slides for live
 * ranges). Resizes with its container. The first draw of any chart with at least one point
 * sets performance.mark("pulse:first-chart").
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatDateTime, formatTick, formatValue } from "../format";

export type ChartKind = "sparkline" | "detail";

export interface TimeChartOptions {
  kind: ChartKind;
  unit: string | null;
  /** A drag selection over [from, to] (epoch ms); detail charts only. */
  onZoom?: (from: number, to: number) => void;
}

const LINE = "#0a58a8";
const BAND = "rgba(10, 88, 168, 0.18)";
const EDGE = "rgba(10, 88, 168, 0.45)";
const AXIS = "#3d4756";
const GRID = "#dfe3e8";

let firstChartMarked = false;

function markFirstChart(u: uPlot): void {
  if (firstChartMarked) return;
  const xs = u.data[0];
  if (xs && xs.length > 0) {
    firstChartMarked = true;
    if (typeof performance !== "undefined" && typeof performance.mark === "function") {
      performance.mark("pulse:first-chart");
    }
  }
}

export class TimeChart {
  private readonly plot: uPlot;
  private xMin = Date.now() - 60_000;
  private xMax = Date.now();
  private readonly resize: ResizeObserver | null = null;
  private readonly height: number;
  private lastWidth = 0;

  constructor(
    private readonly container: HTMLElement,
    private readonly options: TimeChartOptions,
  ) {
    this.height = options.kind === "sparkline" ? 48 : 320;
    const width = this.measure();
    this.lastWidth = width;
    const opts = options.kind === "sparkline" ? this.sparklineOptions(width) : this.detailOptions(width);
    const empty: uPlot.AlignedData =
      options.kind === "sparkline" ? [[], []] : [[], [], [], []];
    this.plot = new uPlot(opts, empty, container);
    if (typeof ResizeObserver === "function") {
      this.resize = new ResizeObserver(() => {
        const next = this.measure();
        if (next !== this.lastWidth) {
          this.lastWidth = next;
          this.plot.setSize({ width: next, height: this.height });
        }
      });
      this.resize.observe(container);
    }
  }

  /** The plotting area's width in CSS pixels (for max_points). */
  plotWidth(): number {
    return Math.round(this.plot.bbox.width / (window.devicePixelRatio || 1)) || this.lastWidth;
  }

  /** data: [time ms, avg] for sparklines; [time ms, avg, min, max] for the detail chart. */
  setData(data: ReadonlyArray<number[]>, xMin: number, xMax: number): void {
    this.xMin = xMin;
    this.xMax = xMax;
    const aligned = (this.options.kind === "sparkline" ? [data[0]!, data[1]!] : [data[0]!, data[1]!, data[2]!, data[3]!]) as uPlot.AlignedData;
    this.plot.setData(aligned);
  }

  destroy(): void {
    this.resize?.disconnect();
    this.plot.destroy();
  }

  private measure(): number {
    return Math.max(120, Math.floor(this.container.clientWidth || 300));
  }

  private xRange = (): uPlot.Range.MinMax => [this.xMin, this.xMax];

  private sparklineOptions(width: number): uPlot.Options {
    return {
      width,
      height: this.height,
      ms: 1,
      pxAlign: false,
      cursor: { show: false },
      legend: { show: false },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      scales: {
        x: { time: true, range: this.xRange },
        y: { range: (_u, min, max) => padRange(min, max) },
      },
      axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: LINE, width: 1.5, fill: BAND, points: { show: false } }],
      hooks: { draw: [markFirstChart] },
    };
  }

  private detailOptions(width: number): uPlot.Options {
    const unit = this.options.unit;
    return {
      width,
      height: this.height,
      ms: 1,
      scales: {
        x: { time: true, range: this.xRange },
        y: { range: (_u, min, max) => padRange(min, max) },
      },
      axes: [
        { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 } },
        {
          stroke: AXIS,
          // Wide enough for the longest tick label ("2.79 GiB").
          size: (_u, values) => {
            const longest = values ? Math.max(0, ...values.map((v) => String(v).length)) : 4;
            return Math.ceil(longest * 7.5) + 20;
          },
          grid: { stroke: GRID, width: 1 },
          ticks: { stroke: GRID, width: 1 },
          values: (_u, values) => values.map((v) => formatTick(v, unit)),
        },
      ],
      series: [
        { label: "Time", value: (_u, v) => (v === null || v === undefined ? "—" : formatDateTime(v)) },
        {
          label: "Average",
          stroke: LINE,
          width: 2,
          points: { show: false },
          value: (_u, v) => formatValue(v, unit),
        },
        { label: "Min", stroke: EDGE, width: 1, points: { show: false }, value: (_u, v) => formatValue(v, unit) },
        { label: "Max", stroke: EDGE, width: 1, points: { show: false }, value: (_u, v) => formatValue(v, unit) },
      ],
      bands: [{ series: [3, 2], fill: BAND }],
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks: {
        draw: [markFirstChart],
        setSelect: [
          (u) => {
            const { left, width: span } = u.select;
            if (span > 4 && this.options.onZoom) {
              const from = u.posToVal(left, "x");
              const to = u.posToVal(left + span, "x");
              if (Number.isFinite(from) && Number.isFinite(to) && to > from) this.options.onZoom(from, to);
            }
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          },
        ],
      },
    };
  }
}

function padRange(min: number | null, max: number | null): uPlot.Range.MinMax {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) {
    const pad = Math.abs(min) * 0.05 || 1;
    return [min - pad, max + pad];
  }
  const pad = (max - min) * 0.08;
  return [min - pad, max + pad];
}
