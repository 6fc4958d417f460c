import { useQuery } from "@tanstack/react-query";
import { memo, useEffect, useRef } from "react";
import type { SeriesOut } from "../api/gateway.gen";
import { answer, errorMessage } from "../api/http";
import { seriesHref } from "../app/router";
import { getServices } from "../app/services";
import { TimeChart } from "../charts/timeChart";
import { formatValue } from "../format";
import type { Need } from "../live/hub";
import { seriesKey } from "../live/store";
import { useTitle } from "../ui/hooks";

const SPARKLINE_MINUTES = 15;
const SPARKLINE_NEED: Need = { minutes: SPARKLINE_MINUTES, maxPoints: 300, raw: false, maxRate: 1 };
/**
 * Sparklines are redrawn together on one shared tick, not on every point: fifteen minutes over
 * a tile's ~300 px is about 3 s a pixel, so a redraw a second moves nothing visible, and ten
 * tiles redrawn at ten moments cost ten rendered frames instead of one. (The value beside the
 * sparkline still changes with every point.) Measured: docs/operations.md, dashboard benchmark.
 */
const SPARKLINE_REDRAW_MS = 3_000;
const sparklineRedraws = new Set<() => void>();
let sparklineTimer: number | null = null;

function onSparklineTick(redraw: () => void): () => void {
  sparklineRedraws.add(redraw);
  sparklineTimer ??= window.setInterval(() => {
    if (document.hidden) return; // nothing to see; the next visible tick catches up
    for (const each of sparklineRedraws) each();
  }, SPARKLINE_REDRAW_MS);
  return () => {
    sparklineRedraws.delete(redraw);
    if (sparklineRedraws.size === 0 && sparklineTimer !== null) {
      window.clearInterval(sparklineTimer);
      sparklineTimer = null;
    }
  };
}

export function useCatalog() {
  const { api } = getServices();
  return useQuery({
    queryKey: ["catalog"],
    queryFn: ({ signal }) => answer(api.GET("/api/v1/metrics/catalog", { signal })),
    refetchInterval: 30_000,
  });
}

export function OverviewPage() {
  useTitle("Overview");
  const catalog = useCatalog();
  const series = [...(catalog.data?.series ?? [])].sort(
    (a, b) => a.source.localeCompare(b.source) || a.name.localeCompare(b.name),
  );

  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      {catalog.isPending && <p role="status">Loading series…</p>}
      {catalog.isError && (
        <p className="form-error" role="alert">
          Could not load the series: {errorMessage(catalog.error)}
        </p>
      )}
      {catalog.isSuccess && series.length === 0 && (
        <p>No series yet. Producers publish metrics and they appear here within 30 seconds.</p>
      )}
      {series.length > 0 && (
        <ul className="tiles" aria-label="Series">
          {series.map((s) => (
            <li key={seriesKey(s.source, s.name)}>
              <SeriesTile source={s.source} name={s.name} unit={s.unit} latestValue={s.latest_value} />
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

interface TileProps {
  source: string;
  name: string;
  unit: SeriesOut["unit"];
  latestValue: number | null;
}

const SeriesTile = memo(function SeriesTile({ source, name, unit, latestValue }: TileProps) {
  const { store, hub } = getServices();
  const key = seriesKey(source, name);
  const valueRef = useRef<HTMLSpanElement>(null);
  const chartRef = useRef<HTMLDivElement>(null);
  const fallback = useRef(latestValue);
  fallback.current = latestValue;

  useEffect(() => {
    const release = hub.acquire(source, name, SPARKLINE_NEED);
    const chart = new TimeChart(chartRef.current!, { kind: "sparkline", unit });
    let shown = "";
    let hasDrawn = false;
    const redraw = (): void => {
      const buffer = store.get(key);
      if (!buffer || !buffer.length) return;
      const now = Date.now();
      const from = now - SPARKLINE_MINUTES * 60_000;
      const i = Math.max(0, buffer.lowerBound(from) - 1);
      chart.setData([buffer.t.slice(i), buffer.avg.slice(i)], from, now);
      hasDrawn = true;
    };
    const showValue = (): void => {
      const latest = store.get(key)?.latest()?.value ?? fallback.current;
      const text = formatValue(latest, store.unit(key) ?? unit);
      if (text !== shown && valueRef.current) {
        shown = text;
        valueRef.current.textContent = text;
      }
    };
    const onChange = (): void => {
      if (!hasDrawn) redraw(); // the first data at once; later ones on the shared tick
      showValue();
    };
    onChange();
    const stop = store.listen(key, onChange);
    const stopTicking = onSparklineTick(redraw); // also slides the window when no point comes
    return () => {
      stop();
      stopTicking();
      chart.destroy();
      release();
    };
  }, [key, source, name, unit, store, hub]);

  return (
    <a className="tile" href={seriesHref(source, name)} data-testid="series-tile" data-series={key}>
      <span className="tile-head">
        <span className="tile-name">{name}</span>
        <span className="tile-source">{source}</span>
      </span>
      <span className="tile-value" data-testid="tile-value" ref={valueRef} />
      <div
        className="sparkline"
        ref={chartRef}
        role="img"
        aria-label={`${name} on ${source} over the last ${SPARKLINE_MINUTES} minutes`}
      />
    </a>
  );
});
