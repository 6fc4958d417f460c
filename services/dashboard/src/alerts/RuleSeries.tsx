/**
 * The series of a rule, two ways: those a saved rule has pending or firing now
 * (`GET /api/v1/alerts/rules/{rule_id}`'s `firings`, read again every few seconds while shown),
 * and those a metric condition being typed would watch, with their latest values
 * (`POST /api/v1/alerts/rules/preview`, asked once the condition is complete and has not changed
 * for a moment).
 */
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { answer, errorMessage } from "../api/http";
import { getServices } from "../app/services";
import { formatDate, formatValue } from "../format";
import { notifyKeys } from "../notifications/api";
import { isMetricType, type Condition, type Rule } from "../notifications/types";
import { ListStatus } from "../ui/Feedback";
import { conditionOf, sortFirings, type RuleForm } from "./ruleForm";

const FIRINGS_REFRESH_MS = 5_000;
const PREVIEW_DEBOUNCE_MS = 400;
const PREVIEW_REFRESH_MS = 10_000;
const PREVIEW_ROWS = 50;

/** `<source>:<metric>` → its unit, from the metrics catalog. */
export type Units = ReadonlyMap<string, string | null>;

/** A saved rule's pending and firing series. `warn`: say what changing the rule does to them. */
export function RuleFirings({ rule, warn = false }: { rule: Rule; warn?: boolean }) {
  const { api } = getServices();
  const detail = useQuery({
    queryKey: notifyKeys.rule(rule.id),
    queryFn: ({ signal }) => answer(api.GET("/api/v1/alerts/rules/{rule_id}", { params: { path: { rule_id: rule.id } }, signal })),
    refetchInterval: FIRINGS_REFRESH_MS,
  });
  const firings = sortFirings(detail.data?.firings ?? []);
  const firing = firings.filter((f) => f.state === "firing").length;
  return (
    <div className="rule-series" data-testid="rule-firings" data-rule={rule.id} data-firing={detail.isSuccess ? firing : undefined}>
      <ListStatus query={detail} what="rule's series" />
      {detail.isSuccess && (
        <p role="status">
          {firings.length === 0
            ? rule.enabled
              ? "Nothing pending or firing: the condition holds for none of its series."
              : "Nothing pending or firing: the rule is disabled."
            : countsText(firing, firings.length - firing)}
        </p>
      )}
      {firings.length > 0 && (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">The series of “{rule.name}” that are pending or firing</caption>
              <thead>
                <tr>
                  <th scope="col">Series</th>
                  <th scope="col">State</th>
                  <th scope="col">Value</th>
                  <th scope="col">Since</th>
                </tr>
              </thead>
              <tbody>
                {firings.map((f) => (
                  <tr key={f.series} data-series={f.series} data-state={f.state}>
                    <th scope="row">{f.series}</th>
                    <td>
                      <span className={`kind kind--${f.state === "firing" ? rule.severity : "info"}`}>{f.state === "firing" ? "Firing" : "Pending"}</span>
                    </td>
                    <td>{formatValue(f.value, null)}</td>
                    <td>{formatDate(f.state === "firing" ? f.fired_at : f.since)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {warn && <p className="hint">A new condition, or disabling the rule, forgets these series without a “resolved” notification.</p>}
        </>
      )}
    </div>
  );
}

function countsText(firing: number, pending: number): string {
  const parts = [firing ? `${firing} firing` : "", pending ? `${pending} pending (the condition holds, not yet for its duration)` : ""];
  return `${parts.filter(Boolean).join("; ")}.`;
}

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setDebounced(value), ms);
    return () => window.clearTimeout(timer);
  }, [value, ms]);
  return debounced;
}

/** The series a metric condition watches now, their latest values and (threshold) whether
 * each meets it now. Nothing for a class condition: its series are the class's students. */
export function RulePreview({ form, units }: { form: RuleForm; units: Units }) {
  const { api } = getServices();
  const { condition } = conditionOf(form);
  const key = condition && isMetricType(condition.type) ? JSON.stringify(condition) : "";
  const asked = useDebounced(key, PREVIEW_DEBOUNCE_MS);
  const settled = key !== "" && asked === key;
  const preview = useQuery({
    queryKey: notifyKeys.preview(asked),
    queryFn: ({ signal }) =>
      answer(api.POST("/api/v1/alerts/rules/preview", { body: { condition: JSON.parse(asked) as Condition }, signal })),
    enabled: settled,
    refetchInterval: PREVIEW_REFRESH_MS,
    retry: false,
  });
  if (!isMetricType(form.type)) return null;

  const series = settled ? (preview.data?.series ?? []) : [];
  const threshold = condition?.type === "threshold" ? condition : null;
  const meeting = series.filter((s) => s.matches).length;
  const state = !key ? "incomplete" : !settled || preview.isPending ? "loading" : preview.isError ? "error" : "ready";
  return (
    <section className="rule-preview" aria-labelledby="rule-preview-heading" data-testid="rule-preview" data-state={state}>
      <h3 id="rule-preview-heading">Series it watches now</h3>
      <div role="status" aria-live="polite">
        {state === "incomplete" && <p className="hint">Complete the condition to see which series it watches.</p>}
        {state === "loading" && <p className="hint">Looking…</p>}
        {state === "error" && <p className="form-error">{errorMessage(preview.error)}</p>}
        {state === "ready" && (
          <p>
            {series.length === 0
              ? "No series of this metric has sent data: the rule would be refused."
              : `${series.length} series${threshold ? `, ${meeting} ${threshold.op ?? "above"} ${threshold.value} now` : ""}.`}
          </p>
        )}
      </div>
      {series.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">The series the rule watches, with their latest value</caption>
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">Metric</th>
                <th scope="col">Latest value</th>
                <th scope="col">At</th>
                {threshold && <th scope="col">Meets it now</th>}
              </tr>
            </thead>
            <tbody>
              {series.slice(0, PREVIEW_ROWS).map((s) => (
                <tr key={`${s.source}:${s.metric}`} data-series={`${s.source}:${s.metric}`} data-matches={s.matches}>
                  <td>{s.source}</td>
                  <td>{s.metric}</td>
                  <td>{s.value === null ? "no data" : formatValue(s.value, units.get(`${s.source}:${s.metric}`))}</td>
                  <td>{formatDate(s.time)}</td>
                  {threshold && <td>{s.matches ? "Yes" : "No"}</td>}
                </tr>
              ))}
            </tbody>
          </table>
          {series.length > PREVIEW_ROWS && <p className="hint">The first {PREVIEW_ROWS} of {series.length}.</p>}
        </div>
      )}
    </section>
  );
}
