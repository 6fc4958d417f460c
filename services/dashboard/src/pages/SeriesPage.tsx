import { memo, useEffect, useMemo, useRef, useState, useSyncExternalStore, type FormEvent } from "react";
import { navigate, seriesHref } from "../app/router";
import { answer } from "../api/http";
import { getServices } from "../app/services";
import { TimeChart } from "../charts/timeChart";
import { formatDateTime, formatValue, resolutionLabel } from "../format";
import type { Need } from "../live/hub";
import { RANGES, SeriesView, type RangeId, type RangeSpec } from "../live/seriesView";
import { seriesKey } from "../live/store";
import { useTitle } from "../ui/hooks";
import { useCatalog } from "./OverviewPage";

/** Keeps the latest value coming whatever the range (a custom range in the past included). */
const LATEST_NEED: Need = { minutes: 1, maxPoints: 60, raw: false, maxRate: 1 };

export function SeriesPage({ source, name, range }: { source: string; name: string; range: RangeSpec }) {
  useTitle(`${name} · ${source}`);
  const { store, hub, api } = getServices();
  const key = seriesKey(source, name);
  const catalog = useCatalog();
  const entry = catalog.data?.series.find((s) => s.source === source && s.name === name);
  const unit = store.unit(key) ?? entry?.unit ?? null;
  const [view, setView] = useState<SeriesView | null>(null);
  // The range is part of the URL (a reload keeps it); choosing one replaces the history entry.
  const setRange = (next: RangeSpec): void => navigate(seriesHref(source, name, next), true);
  const latestRef = useRef<HTMLSpanElement>(null);
  const latestTimeRef = useRef<HTMLTimeElement>(null);
  const fallback = useRef(entry?.latest_value ?? null);
  fallback.current = entry?.latest_value ?? null;

  useEffect(() => {
    const created = new SeriesView(
      { store, hub, fetchHistory: (query, signal) => answer(api.GET("/api/v1/metrics", { params: { query }, signal })) },
      source,
      name,
    );
    setView(created);
    const release = hub.acquire(source, name, LATEST_NEED);
    return () => {
      created.dispose();
      release();
    };
  }, [source, name, store, hub, api]);

  const { id: rangeId, from: rangeFrom, to: rangeTo } = range;
  useEffect(() => {
    view?.setRange(rangeId === "custom" ? { id: rangeId, from: rangeFrom, to: rangeTo } : { id: rangeId });
  }, [view, rangeId, rangeFrom, rangeTo]);

  // The latest value, written straight into the DOM (no React render per point).
  useEffect(() => {
    const update = (): void => {
      const latest = store.get(key)?.latest();
      const value = latest?.value ?? fallback.current;
      if (latestRef.current) latestRef.current.textContent = formatValue(value, store.unit(key) ?? unit);
      const time = latestTimeRef.current;
      if (time) {
        time.textContent = latest ? `at ${formatDateTime(latest.time)}` : "";
        if (latest) time.dateTime = new Date(latest.time).toISOString();
      }
    };
    update();
    return store.listen(key, update);
  }, [key, store, unit]);

  const subscribeView = useMemo(
    () => (view ? (listener: () => void) => view.subscribe(listener) : noSubscribe),
    [view],
  );
  const zoomed = useSyncExternalStore(subscribeView, () => view?.isZoomed() ?? false);

  return (
    <>
      <p className="breadcrumb">
        <a href="#/">Overview</a> <span aria-hidden="true">›</span> {name} · {source}
      </p>
      <h1 tabIndex={-1}>
        {name} · {source}
      </h1>
      <p className="latest">
        <span className="latest-label">Latest value </span>
        <span className="latest-value" data-testid="latest-value" ref={latestRef} />{" "}
        <time className="latest-time" ref={latestTimeRef} />
      </p>
      {catalog.isSuccess && !entry && store.get(key) === undefined && (
        <p className="notice" role="note">
          This series is not in the catalog (yet). Live points appear as soon as they arrive.
        </p>
      )}
      <RangeSelector range={range} onChange={setRange} />
      {zoomed && view && (
        <p className="zoom-bar">
          <span>Zoomed in.</span>
          <button type="button" className="button" onClick={() => view.resetZoom()}>
            Reset zoom
          </button>
        </p>
      )}
      {view && <SeriesChart view={view} unit={unit} name={name} source={source} />}
      {view && <DataTable view={view} unit={unit} name={name} source={source} />}
    </>
  );
}

function noSubscribe(): () => void {
  return () => undefined;
}

// -- range selector ------------------------------------------------------------------------

function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function RangeSelector({ range, onChange }: { range: RangeSpec; onChange: (range: RangeSpec) => void }) {
  const [customOpen, setCustomOpen] = useState(range.id === "custom");
  const [from, setFrom] = useState(() => toLocalInput(range.from ?? Date.now() - 3_600_000));
  const [to, setTo] = useState(() => toLocalInput(range.to ?? Date.now()));
  const [error, setError] = useState<string | null>(null);
  const selected: RangeId = customOpen ? "custom" : range.id;

  function pick(id: RangeId): void {
    if (id === "custom") {
      setCustomOpen(true);
      return;
    }
    setCustomOpen(false);
    setError(null);
    onChange({ id });
  }

  function apply(event: FormEvent<HTMLFormElement>): void {
    event.preventDefault();
    const fromMs = new Date(from).getTime();
    const toMs = new Date(to).getTime();
    if (!Number.isFinite(fromMs) || !Number.isFinite(toMs)) {
      setError("Enter both a From and a To time.");
      return;
    }
    if (fromMs >= toMs) {
      setError("From must be earlier than To.");
      return;
    }
    setError(null);
    onChange({ id: "custom", from: fromMs, to: toMs });
  }

  return (
    <div className="range">
      <div role="group" aria-label="Time range" className="range-buttons">
        {RANGES.map((r) => (
          <button
            key={r.id}
            type="button"
            className="toggle"
            aria-pressed={selected === r.id}
            onClick={() => pick(r.id)}
          >
            {r.label}
          </button>
        ))}
      </div>
      {customOpen && (
        <form className="custom-range" onSubmit={apply} aria-label="Custom range">
          <div className="field">
            <label htmlFor="range-from">From</label>
            <input id="range-from" type="datetime-local" value={from} required onChange={(e) => setFrom(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="range-to">To</label>
            <input id="range-to" type="datetime-local" value={to} required onChange={(e) => setTo(e.target.value)} />
          </div>
          <button type="submit" className="button button--primary">
            Apply
          </button>
          {error && (
            <p className="form-error" role="alert">
              {error}
            </p>
          )}
        </form>
      )}
    </div>
  );
}

// -- chart -------------------------------------------------------------------------------------

function describeRange(view: SeriesView): string {
  const range = view.getRange();
  if (view.isZoomed()) return "the zoomed span";
  if (range.id === "custom" && range.from !== undefined && range.to !== undefined) {
    return `${formatDateTime(range.from)} to ${formatDateTime(range.to)}`;
  }
  const spec = RANGES.find((r) => r.id === range.id);
  return spec ? `the last ${spec.label.replace("Live ", "")}` : "";
}

interface ChartProps {
  view: SeriesView;
  unit: string | null;
  name: string;
  source: string;
}

function SeriesChart({ view, unit, name, source }: ChartProps) {
  const boxRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<HTMLDivElement>(null);
  const errorRef = useRef<HTMLParagraphElement>(null);

  useEffect(() => {
    const box = boxRef.current!;
    const chart = new TimeChart(plotRef.current!, {
      kind: "detail",
      unit,
      onZoom: (from, to) => view.zoom(from, to, chart.plotWidth()),
    });
    view.setPlotWidth(chart.plotWidth());
    const shown: Record<string, string> = {};
    const set = (attribute: string, value: string): void => {
      if (shown[attribute] !== value) {
        shown[attribute] = value;
        box.setAttribute(attribute, value);
      }
    };
    const render = (): void => {
      const frame = view.frame();
      chart.setData(frame.data, frame.xMin, frame.xMax);
      view.setPlotWidth(chart.plotWidth());
      set("data-state", frame.state);
      set("data-resolution", frame.resolution);
      set("data-points", String(frame.points));
      const resolution = frame.resolution === "raw" ? "every point as measured" : `averages per ${frame.resolution} with the min–max band`;
      set(
        "aria-label",
        `Chart of ${name} on ${source} over ${describeRange(view)}: ${frame.points} points, ${resolution}. The table below lists the values.`,
      );
      const error = errorRef.current;
      if (error) {
        const text = frame.error ? `Could not load the data: ${frame.error}` : "";
        if (error.textContent !== text) error.textContent = text;
        error.hidden = !text;
      }
    };
    render();
    const stop = view.subscribe(render);
    return () => {
      stop();
      chart.destroy();
    };
  }, [view, unit, name, source]);

  return (
    <figure className="chart-figure">
      <div
        ref={boxRef}
        className="series-chart"
        data-testid="series-chart"
        data-state="loading"
        data-resolution={resolutionLabel(0)}
        data-points="0"
        role="img"
        aria-label={`Chart of ${name} on ${source}`}
      >
        <div ref={plotRef} className="series-chart-plot" />
      </div>
      <figcaption className="chart-help">Drag across the chart to zoom into a span.</figcaption>
      <p className="form-error" role="alert" ref={errorRef} hidden />
    </figure>
  );
}

// -- table (the chart's text alternative) ---------------------------------------------------

type Row = ReturnType<SeriesView["rows"]>[number];
const TABLE_ROWS = 120;

function DataTable({ view, unit, name, source }: ChartProps) {
  const [open, setOpen] = useState(false);
  const [rows, setRows] = useState<Row[]>([]);

  useEffect(() => {
    if (!open) return;
    let last = 0;
    let timer: number | null = null;
    const update = (): void => {
      const now = performance.now();
      if (now - last >= 1000) {
        last = now;
        setRows(view.rows(TABLE_ROWS));
      } else if (timer === null) {
        timer = window.setTimeout(() => {
          timer = null;
          update();
        }, 1000 - (now - last));
      }
    };
    update();
    const stop = view.subscribe(update);
    return () => {
      stop();
      if (timer !== null) window.clearTimeout(timer);
    };
  }, [open, view]);

  return (
    <details className="data-table" onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary>Show data as a table</summary>
      {open && (
        <div className="table-wrap" role="region" aria-label={`Values of ${name} on ${source}`} tabIndex={0}>
          <table>
            <caption>
              Latest {rows.length} points of {name} on {source}, newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Value</th>
                <th scope="col">Min – max</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <TableRow key={row.time} time={row.time} avg={row.avg} min={row.min} max={row.max} widthMs={row.widthMs} unit={unit} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </details>
  );
}

/** One row; memoised so a new point renders one row, not 120. */
const TableRow = memo(function TableRow({ time, avg, min, max, widthMs, unit }: Row & { unit: string | null }) {
  return (
    <tr data-time={time}>
      <th scope="row">
        <time dateTime={new Date(time).toISOString()}>{formatDateTime(time)}</time>
      </th>
      <td data-value={avg}>{formatValue(avg, unit)}</td>
      <td>
        {widthMs > 0 ? `${formatValue(min, unit)} – ${formatValue(max, unit)} (${resolutionLabel(widthMs)})` : "—"}
      </td>
    </tr>
  );
});
