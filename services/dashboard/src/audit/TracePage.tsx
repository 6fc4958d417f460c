/**
 * A trace's page (admins): everything recorded under one trace id — the requests, the steps of
 * the tasks they started, the messages refused — as one timeline in time order, each record
 * at its offset from the first. A failed step is highlighted with its error, its stack trace
 * one click away; a summary at the top names it and moves there.
 */
import { useQuery } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { ApiError, answer, errorMessage } from "../api/http";
import { formatBytes, formatDate } from "../format";
import { NeedAdmin } from "../pages/NotFoundPage";
import { useTitle } from "../ui/hooks";
import { auditApi, auditKeys } from "./api";
import { visibleLines, visibleText } from "./bytes";
import { deadLettersHref, logsHref, parseTraceId, tasksHref } from "./filters";
import { formatClock, formatDuration } from "./records";
import { AccessDetails, Body, StatusCode, StepBadge } from "./RecordParts";
import { storedRow } from "./tail";
import { buildTimeline, formatOffset, type TimelineEntry } from "./timeline";

export function TracePage({ isAdmin, traceId }: { isAdmin: boolean; traceId: string }) {
  if (!isAdmin) return <NeedAdmin title="Trace" />;
  return <Trace traceId={traceId} />;
}

function NoRecords({ traceId, why }: { traceId: string; why?: string }) {
  return (
    <div className="notice" role="note" data-testid="trace-empty">
      <p>No records for this trace{why ? ` (${why})` : ""}.</p>
      <p className="hint">
        Records are kept for a limited time, and a request’s records arrive within a few seconds. Search the{" "}
        <a href={logsHref({ range: { id: "all" }, trace: traceId })}>access log</a> for it.
      </p>
    </div>
  );
}

function Trace({ traceId: raw }: { traceId: string }) {
  const traceId = parseTraceId(raw) ?? null;
  useTitle(`Trace ${(traceId ?? raw).slice(0, 8)}`);
  const story = useQuery({
    queryKey: auditKeys.trace(traceId ?? ""),
    enabled: traceId !== null,
    retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 1,
    queryFn: ({ signal }) =>
      answer(auditApi().GET("/api/v1/admin/audit/traces/{trace_id}", { params: { path: { trace_id: traceId! } }, signal })),
  });
  const timeline = story.data ? buildTimeline(story.data) : null;
  const listRef = useRef<HTMLOListElement>(null);

  const notFound = story.error instanceof ApiError && story.error.status === 404;
  return (
    <>
      <p className="breadcrumb">
        <a href={logsHref()}>Logs</a> › Trace
      </p>
      <h1 tabIndex={-1}>
        Trace <code className="trace-id">{traceId ?? raw}</code>
      </h1>
      {traceId === null && <NoRecords traceId={raw} why="this is not a trace id" />}
      {story.isPending && traceId !== null && <p role="status">Loading the trace…</p>}
      {notFound && <NoRecords traceId={traceId ?? raw} />}
      {story.isError && !notFound && (
        <p className="form-error" role="alert">
          Could not load the trace: {errorMessage(story.error)}{" "}
          <button type="button" className="button button--small" onClick={() => void story.refetch()}>
            Try again
          </button>
        </p>
      )}
      {timeline && timeline.entries.length === 0 && <NoRecords traceId={traceId ?? raw} />}
      {timeline && timeline.entries.length > 0 && (
        <>
          <TraceSummary
            entries={timeline.entries}
            spanMs={timeline.spanMs}
            onShowFailure={(entry) => {
              const target = listRef.current?.querySelector<HTMLElement>(`[data-key="${entry.key}"]`);
              target?.scrollIntoView({ block: "center" });
              target?.focus();
            }}
            firstFailure={timeline.firstFailure}
          />
          {timeline.truncated && (
            <p className="notice" role="note" data-testid="trace-truncated">
              This trace has more records than one page shows: only the first {timeline.entries.length} are here.
            </p>
          )}
          <section aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">Timeline</h2>
            <ol className="trace-timeline" ref={listRef} data-testid="trace-timeline">
              {timeline.entries.map((entry) => (
                <TimelineItem key={entry.key} entry={entry} />
              ))}
            </ol>
          </section>
          <p className="hint">
            Also: <a href={tasksHref({ range: { id: "all" } })}>task runs</a> ·{" "}
            <a href={deadLettersHref({ status: "", trace: traceId ?? "" })}>dead letters of this trace</a>
          </p>
        </>
      )}
    </>
  );
}

function TraceSummary({
  entries,
  spanMs,
  firstFailure,
  onShowFailure,
}: {
  entries: TimelineEntry[];
  spanMs: number;
  firstFailure: TimelineEntry | null;
  onShowFailure: (entry: TimelineEntry) => void;
}) {
  const count = (kind: TimelineEntry["kind"]) => entries.filter((e) => e.kind === kind).length;
  const requests = count("access");
  const steps = count("step");
  const letters = count("dead_letter");
  const parts = [
    `${requests} ${requests === 1 ? "request" : "requests"}`,
    `${steps} task ${steps === 1 ? "step" : "steps"}`,
    `${letters} dead ${letters === 1 ? "letter" : "letters"}`,
  ];
  const failed = firstFailure?.item.step;
  return (
    <div className="trace-summary">
      <p data-testid="trace-summary">
        {parts.join(", ")} over {formatDuration(spanMs)}, from {formatDate(entries[0]!.item.at)}.
      </p>
      {failed && firstFailure && (
        <div className="form-error trace-failure" role="alert" data-testid="trace-failure">
          <p>
            <strong>
              {failed.task_name} failed at step “{failed.step_name}”
            </strong>
            {failed.error_message ? `: ${visibleText(failed.error_message)}` : "."}
          </p>
          <button type="button" className="button button--small" onClick={() => onShowFailure(firstFailure)}>
            Show the failed step
          </button>
        </div>
      )}
    </div>
  );
}

const KIND_LABEL = { access: "Request", step: "Task step", dead_letter: "Dead letter" } as const;

function TimelineItem({ entry }: { entry: TimelineEntry }) {
  const { item } = entry;
  const [open, setOpen] = useState(false);
  return (
    <li
      className={`trace-item trace-item--${entry.kind}${entry.failed ? " trace-item--failed" : ""}`}
      data-key={entry.key}
      data-kind={entry.kind}
      data-failed={entry.failed ? "true" : undefined}
      data-step-status={item.step?.status}
      tabIndex={-1}
      aria-label={entry.failed ? `Failed step: ${item.step?.task_name} › ${item.step?.step_name}` : undefined}
    >
      <div className="trace-when">
        <span className="trace-offset">{formatOffset(entry.offsetMs)}</span>
        <time dateTime={item.at} className="hint">
          {formatClock(item.at)}
        </time>
      </div>
      <div className="trace-what">
        <span className="trace-kind">{KIND_LABEL[entry.kind]}</span>
        {item.access && (
          <>
            <p className="trace-line">
              <strong>{item.access.method}</strong> <code>{item.access.path}</code> → <StatusCode status={item.access.response_status} />{" "}
              <span className="hint">
                in {formatDuration(item.access.duration_ms)} · {item.access.service}
                {item.access.user_id ? ` · user ${item.access.user_id}` : ""}
                {item.access.ip_address ? ` · ${item.access.ip_address}` : ""}
              </span>
            </p>
            <button type="button" className="link-button" aria-expanded={open} onClick={() => setOpen(!open)}>
              {open ? "Hide headers and bodies" : "Headers and bodies"}
            </button>
            {open && <AccessDetails row={storedRow(item.access)} />}
          </>
        )}
        {item.step && (
          <>
            <p className="trace-line">
              <strong>{item.step.task_name}</strong> › {item.step.step_name} <StepBadge status={item.step.status} />{" "}
              <span className="hint">
                #{item.step.execution_order} · {item.step.service}
              </span>
            </p>
            {item.step.error_message && (
              <p className="step-error" data-testid="step-error">
                {visibleText(item.step.error_message)}
              </p>
            )}
            {item.step.stack_trace && (
              <details className="stack-trace">
                <summary>Stack trace</summary>
                <pre className="code-block">{visibleLines(item.step.stack_trace)}</pre>
              </details>
            )}
            {(item.step.input_data != null || item.step.output_data != null) && (
              <details>
                <summary>Input and output</summary>
                <Body value={item.step.input_data} label="Input" />
                <Body value={item.step.output_data} label="Output" />
              </details>
            )}
          </>
        )}
        {item.dead_letter && (
          <>
            <p className="trace-line">
              Refused on <code>{item.dead_letter.origin}</code>: {visibleText(item.dead_letter.reason)}{" "}
              <span className="hint">
                · {formatBytes(item.dead_letter.size)} · {item.dead_letter.status}
              </span>
            </p>
            <p>
              <code className="preview">{visibleText(item.dead_letter.preview)}</code>
            </p>
            <a href={deadLettersHref({ status: "", trace: item.dead_letter.trace_id ?? "" })}>Open in Dead letters</a>
          </>
        )}
      </div>
    </li>
  );
}
