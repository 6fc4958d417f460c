/**
 * Pieces the audit pages share: a status in its colour, a trace link, a stored body or task
 * data shown as text (pretty-printed JSON in a <pre>, never markup), redacted headers, and
 * one request's details.
 */
import { formatBytes } from "../format";
import { visibleLines, visibleText } from "./bytes";
import { traceHref } from "./filters";
import { describeBody, formatDuration, statusTone } from "./records";
import type { AccessRow } from "./tail";
import type { StepStatus } from "./types";

export function StatusCode({ status }: { status: number }) {
  const tone = statusTone(status);
  return (
    <span className={`status status--${tone}`} data-status={status}>
      {status}
    </span>
  );
}

const STEP_LABEL: Record<StepStatus, string> = {
  START: "Started",
  IN_PROGRESS: "In progress",
  SUCCESS: "Succeeded",
  FAILED: "Failed",
};

export function StepBadge({ status }: { status: StepStatus }) {
  return (
    <span className={`step-status step-status--${status.toLowerCase()}`} data-step-status={status}>
      {STEP_LABEL[status]}
    </span>
  );
}

/** A link to a trace's page, showing the start of its id. */
export function TraceLink({ traceId }: { traceId: string | null | undefined }) {
  if (!traceId) return <span className="hint">—</span>;
  return (
    <a href={traceHref(traceId)} className="trace-link" aria-label={`Trace ${traceId}`} data-trace={traceId}>
      <code>{traceId.slice(0, 8)}…</code>
    </a>
  );
}

/** A stored body or task data: what it is, then its text. */
export function Body({ value, label }: { value: unknown; label: string }) {
  const body = describeBody(value);
  switch (body.kind) {
    case "none":
      return <p className="hint">{label}: none.</p>;
    case "binary":
      return (
        <p className="hint">
          {label}: binary{body.contentType ? ` (${body.contentType})` : ""}
          {body.bytes !== null ? `, ${formatBytes(body.bytes)}` : ""}, not kept.
        </p>
      );
    case "truncated":
      return (
        <div className="body-block">
          <p className="hint">
            {label}: truncated{body.bytes !== null ? ` (${formatBytes(body.bytes)} in all)` : ""}; its beginning:
          </p>
          <pre className="code-block">{visibleLines(body.text)}</pre>
        </div>
      );
    case "text":
      return (
        <div className="body-block">
          <p className="hint">{label} (not JSON):</p>
          <pre className="code-block">{visibleLines(body.text)}</pre>
        </div>
      );
    case "json":
      return (
        <div className="body-block">
          <p className="hint">{label}:</p>
          <pre className="code-block">{visibleLines(body.text)}</pre>
        </div>
      );
  }
}

export function HeadersTable({ headers, caption }: { headers: Record<string, string>; caption: string }) {
  const names = Object.keys(headers).sort();
  if (names.length === 0) return <p className="hint">{caption}: none.</p>;
  return (
    <table className="headers-table">
      <caption>{caption}</caption>
      <tbody>
        {names.map((name) => (
          <tr key={name}>
            <th scope="row">
              <code>{name}</code>
            </th>
            <td>
              <code>{visibleText(headers[name] ?? "")}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Everything one access record holds. */
export function AccessDetails({ row }: { row: AccessRow }) {
  const r = row.record;
  return (
    <div className="record-details" data-testid="access-details">
      <dl className="facts">
        <dt>Route</dt>
        <dd>{r.route ? <code>{r.route}</code> : "no route matched"}</dd>
        <dt>Path</dt>
        <dd>
          <code>{visibleText(r.path)}</code>
        </dd>
        <dt>Trace</dt>
        <dd>
          <a href={traceHref(r.trace_id)}>
            <code>{r.trace_id}</code>
          </a>
        </dd>
        <dt>Duration</dt>
        <dd>{formatDuration(r.duration_ms)}</dd>
        {r.method === "WS" && (
          <>
            <dt>Frames in / out</dt>
            <dd>
              {r.frames_in ?? "—"} / {r.frames_out ?? "—"}
            </dd>
            <dt>Close code</dt>
            <dd>{r.close_code ?? "—"}</dd>
          </>
        )}
      </dl>
      <HeadersTable headers={r.request_header} caption="Request headers (secrets redacted)" />
      <Body value={r.request_body} label="Request body" />
      <Body value={r.response_body} label="Response body" />
    </div>
  );
}
