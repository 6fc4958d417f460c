/**
 * The progress-over-time chart's data: per step, the cell reached by the median student and
 * the interquartile range (p25–p75), as cell numbers (from 1).
 */
import { cellNumber } from "./heatmap";
import type { ClassProgress } from "./types";

export interface ProgressSeries {
  /** Step times, epoch ms, ascending. */
  t: number[];
  p25: number[];
  median: number[];
  p75: number[];
  students: number[];
}

export function progressSeries(progress: ClassProgress): ProgressSeries {
  const rows = progress.steps
    .map(({ time, median, p25, p75, students }) => ({
      t: typeof time === "string" ? Date.parse(time) : NaN,
      median: Number(median),
      p25: Number(p25),
      p75: Number(p75),
      students: Number(students ?? 0),
    }))
    .filter((r) => Number.isFinite(r.t) && [r.median, r.p25, r.p75].every(Number.isFinite))
    .sort((a, b) => a.t - b.t);
  const series: ProgressSeries = { t: [], p25: [], median: [], p75: [], students: [] };
  for (const row of rows) {
    if (series.t.length > 0 && series.t[series.t.length - 1] === row.t) continue; // one per step
    series.t.push(row.t);
    // The band's edges in order even if a step says otherwise.
    const low = Math.min(row.p25, row.median, row.p75);
    const high = Math.max(row.p25, row.median, row.p75);
    series.p25.push(cellNumber(low));
    series.median.push(cellNumber(row.median));
    series.p75.push(cellNumber(high));
    series.students.push(row.students);
  }
  return series;
}

/** uPlot's aligned data: time, p25, median, p75. */
export function alignedProgress(series: ProgressSeries): [number[], number[], number[], number[]] {
  return [series.t, series.p25, series.median, series.p75];
}

/** One sentence for the chart's accessible name. */
export function describeProgress(series: ProgressSeries): string {
  const n = series.t.length;
  if (n === 0) return "No progress yet: nobody has run a cell of this notebook.";
  const i = n - 1;
  const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(1));
  return (
    `Progress over ${n} step${n === 1 ? "" : "s"}: the median student is at cell ${fmt(series.median[i]!)}, ` +
    `half the class between cells ${fmt(series.p25[i]!)} and ${fmt(series.p75[i]!)} ` +
    `(${series.students[i]} student${series.students[i] === 1 ? "" : "s"}). The table below lists every step.`
  );
}
