/**
 * Progress over the session (uPlot): the cell reached by the median student as a line, the
 * interquartile range (p25–p75) as a band around it. Its text alternative is the accessible
 * name (the latest step in words) and the table of every step below it.
 */
import { useEffect, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatDateTime } from "../format";
import { alignedProgress, describeProgress, type ProgressSeries } from "./progress";

const LINE = "#0a58a8";
const BAND = "rgba(10, 88, 168, 0.18)";
const EDGE = "rgba(10, 88, 168, 0.45)";
const AXIS = "#3d4756";
const GRID = "#dfe3e8";
const HEIGHT = 260;

const cellValue = (_u: uPlot, v: number | null | undefined): string =>
  v === null || v === undefined ? "—" : `cell ${Number.isInteger(v) ? v : v.toFixed(1)}`;

function options(width: number): uPlot.Options {
  return {
    width,
    height: HEIGHT,
    ms: 1,
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [1, Math.max(2, Math.ceil((max ?? 1) + 0.5))] } },
    axes: [
      { stroke: AXIS, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 } },
      {
        stroke: AXIS,
        label: "Cell reached",
        grid: { stroke: GRID, width: 1 },
        ticks: { stroke: GRID, width: 1 },
        values: (_u, values) => values.map((v) => (Number.isInteger(v) ? String(v) : "")),
      },
    ],
    series: [
      { label: "Time", value: (_u, v) => (v === null || v === undefined ? "—" : formatDateTime(v)) },
      { label: "25th percentile", stroke: EDGE, width: 1, points: { show: false }, value: cellValue },
      { label: "Median", stroke: LINE, width: 2, points: { show: false }, value: cellValue },
      { label: "75th percentile", stroke: EDGE, width: 1, points: { show: false }, value: cellValue },
    ],
    bands: [{ series: [3, 1], fill: BAND }],
  };
}

export function ProgressChart({ series }: { series: ProgressSeries }) {
  const plotRef = useRef<HTMLDivElement>(null);
  const chartRef = useRef<uPlot | null>(null);

  useEffect(() => {
    const container = plotRef.current!;
    const measure = (): number => Math.max(200, Math.floor(container.clientWidth || 300));
    let width = measure();
    const plot = new uPlot(options(width), [[], [], [], []], container);
    chartRef.current = plot;
    const resize = typeof ResizeObserver === "function" ? new ResizeObserver(() => {
      const next = measure();
      if (next !== width) {
        width = next;
        plot.setSize({ width, height: HEIGHT });
      }
    }) : null;
    resize?.observe(container);
    return () => {
      resize?.disconnect();
      plot.destroy();
      chartRef.current = null;
    };
  }, []);

  useEffect(() => {
    chartRef.current?.setData(alignedProgress(series) as uPlot.AlignedData);
  }, [series]);

  return (
    <figure className="chart-figure">
      <div
        className="progress-chart"
        data-testid="progress-chart"
        data-steps={series.t.length}
        role="img"
        aria-label={describeProgress(series)}
      >
        <div ref={plotRef} />
      </div>
      <figcaption className="chart-help">
        The line is the cell reached by the median student; the band holds the middle half of the class.
      </figcaption>
      <ProgressTable series={series} />
    </figure>
  );
}

function ProgressTable({ series }: { series: ProgressSeries }) {
  const [open, setOpen] = useState(false);
  const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(1));
  return (
    <details className="data-table" onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary>Show progress as a table</summary>
      {open && (
        <div className="table-wrap" role="region" aria-label="Progress by step" tabIndex={0}>
          <table>
            <caption>Cell reached per step, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Median</th>
                <th scope="col">Middle half</th>
                <th scope="col">Students</th>
              </tr>
            </thead>
            <tbody>
              {series.t
                .map((t, i) => (
                  <tr key={t}>
                    <th scope="row">
                      <time dateTime={new Date(t).toISOString()}>{formatDateTime(t)}</time>
                    </th>
                    <td>{fmt(series.median[i]!)}</td>
                    <td>
                      {fmt(series.p25[i]!)} – {fmt(series.p75[i]!)}
                    </td>
                    <td>{series.students[i]}</td>
                  </tr>
                ))
                .reverse()}
            </tbody>
          </table>
        </div>
      )}
    </details>
  );
}
