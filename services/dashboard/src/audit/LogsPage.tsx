/**
 * Logs (admins): the access log — every request the gateway and ingest answered — searched by
 * time, status, method, path, user, ip, trace id and service (the filters live in the URL),
 * newest first with older pages on request; a row opens to its redacted headers and bodies;
 * the live tail puts matching requests on top as they happen. The "Task runs" tab lists the
 * runs of multi-step tasks (./TaskRuns.tsx). Every record links to its trace's page.
 */
import { useInfiniteQuery } from "@tanstack/react-query";
import { Fragment, useEffect, useId, useMemo, useState, type FormEvent } from "react";
import { answer } from "../api/http";
import { navigate, type LogsTab } from "../app/router";
import { getServices } from "../app/services";
import { formatDate } from "../format";
import { NeedAdmin } from "../pages/NotFoundPage";
import { ListStatus } from "../ui/Feedback";
import { useObservable, useTitle } from "../ui/hooks";
import { auditApi, auditKeys, PAGE_LIMIT } from "./api";
import type { LogsStatus } from "./channel";
import {
  accessQuery,
  logsHref,
  METHODS,
  parseAccessFilters,
  parseStatus,
  parseTraceId,
  STATUS_ERROR,
  tasksHref,
  TRACE_ERROR,
  type AccessFilterErrors,
  type AccessFilters,
} from "./filters";
import { RangeFields } from "./RangeFields";
import { formatClock, formatDuration } from "./records";
import { AccessDetails, StatusCode, TraceLink } from "./RecordParts";
import { prependLive, storedRow, TAIL_CAP, type AccessRow } from "./tail";
import { TaskRuns } from "./TaskRuns";

export function LogsPage({ isAdmin, tab, query }: { isAdmin: boolean; tab: LogsTab; query: string }) {
  if (!isAdmin) return <NeedAdmin title="Logs" />;
  return <Logs tab={tab} query={query} />;
}

function Logs({ tab, query }: { tab: LogsTab; query: string }) {
  useTitle(tab === "tasks" ? "Task runs" : "Logs");
  // Kept across searches: the tail follows the new filters.
  const [tailOn, setTailOn] = useState(false);
  return (
    <>
      <h1 tabIndex={-1}>Logs</h1>
      <nav aria-label="Logs views" className="range-buttons">
        <a className="toggle" href={logsHref()} aria-current={tab === "requests" ? "page" : undefined}>
          Requests
        </a>
        <a className="toggle" href={tasksHref()} aria-current={tab === "tasks" ? "page" : undefined}>
          Task runs
        </a>
      </nav>
      {tab === "tasks" ? (
        <TaskRuns key={query} query={query} />
      ) : (
        <Requests key={query} query={query} tailOn={tailOn} onTail={setTailOn} />
      )}
    </>
  );
}

// -- requests -------------------------------------------------------------------------------

/** One search (keyed by its filters: other filters are a new search, a preset range counted
 * back from when it began; "Search" again with the same filters counts it afresh). */
function Requests({ query, tailOn, onTail }: { query: string; tailOn: boolean; onTail: (on: boolean) => void }) {
  const filters = useMemo(() => parseAccessFilters(query), [query]);
  const [searchAt, setSearchAt] = useState(() => Date.now());

  return (
    <>
      <AccessFilterForm filters={filters} onSearchAgain={() => setSearchAt(Date.now())} />
      <AccessResults
        key={searchAt}
        filters={filters}
        searchAt={searchAt}
        tailOn={tailOn}
        onTail={onTail}
      />
    </>
  );
}

function checkAccess(filters: AccessFilters): AccessFilterErrors {
  const errors: AccessFilterErrors = {};
  if (parseStatus(filters.status) === null) errors.status = STATUS_ERROR;
  if (parseTraceId(filters.trace) === null) errors.trace = TRACE_ERROR;
  return errors;
}

function AccessFilterForm({ filters, onSearchAgain }: { filters: AccessFilters; onSearchAgain: () => void }) {
  const id = useId();
  const [draft, setDraft] = useState(filters);
  const [errors, setErrors] = useState<AccessFilterErrors>(() => checkAccess(filters));
  const set = (key: Exclude<keyof AccessFilters, "range">) => (event: { target: { value: string } }) =>
    setDraft((d) => ({ ...d, [key]: event.target.value }));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const found = checkAccess(draft);
    setErrors(found);
    if (found.status || found.trace) return;
    if (draft.range.id === "custom" && draft.range.from !== null && draft.range.to !== null && draft.range.from >= draft.range.to) return;
    const href = logsHref(draft);
    if (href === window.location.hash || (href === "#/admin/logs" && window.location.hash === "")) onSearchAgain();
    else navigate(href);
  };

  const text = (key: "path" | "user" | "ip" | "service", label: string, hint?: string, list?: string) => (
    <div className="field">
      <label htmlFor={`${id}-${key}`}>{label}</label>
      <input
        id={`${id}-${key}`}
        value={draft[key]}
        onChange={set(key)}
        maxLength={500}
        list={list}
        aria-describedby={hint ? `${id}-${key}-hint` : undefined}
        autoComplete="off"
      />
      {hint && (
        <span id={`${id}-${key}-hint`} className="hint">
          {hint}
        </span>
      )}
    </div>
  );

  return (
    <form className="filter-form" aria-label="Filter requests" onSubmit={submit} noValidate data-testid="access-filters">
      <RangeFields range={draft.range} onChange={(range) => setDraft((d) => ({ ...d, range }))} />
      <div className="field">
        <label htmlFor={`${id}-status`}>Status</label>
        <input
          id={`${id}-status`}
          value={draft.status}
          onChange={set("status")}
          inputMode="numeric"
          size={6}
          aria-invalid={errors.status ? true : undefined}
          aria-describedby={`${id}-status-hint`}
          autoComplete="off"
        />
        <span id={`${id}-status-hint`} className={errors.status ? "field-error" : "hint"}>
          {errors.status ?? "404, or 4xx"}
        </span>
      </div>
      <div className="field">
        <label htmlFor={`${id}-method`}>Method</label>
        <select id={`${id}-method`} value={draft.method} onChange={set("method")}>
          <option value="">Any</option>
          {METHODS.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </div>
      {text("path", "Path", "Starts with; a path or a route")}
      {text("user", "User id")}
      {text("ip", "IP address")}
      <div className="field">
        <label htmlFor={`${id}-trace`}>Trace id</label>
        <input
          id={`${id}-trace`}
          value={draft.trace}
          onChange={set("trace")}
          size={34}
          spellCheck={false}
          aria-invalid={errors.trace ? true : undefined}
          aria-describedby={errors.trace ? `${id}-trace-error` : undefined}
          autoComplete="off"
        />
        {errors.trace && (
          <span id={`${id}-trace-error`} className="field-error">
            {errors.trace}
          </span>
        )}
      </div>
      {text("service", "Service", undefined, `${id}-services`)}
      <datalist id={`${id}-services`}>
        <option value="gateway" />
        <option value="ingest" />
      </datalist>
      <div className="filter-actions">
        <button type="submit" className="button button--primary">
          Search
        </button>
        <a className="button" href={logsHref()}>
          Clear
        </a>
      </div>
    </form>
  );
}

function tailText(status: LogsStatus, count: number): string {
  switch (status.state) {
    case "off":
      return "";
    case "pending":
      return "Live tail: connecting…";
    case "live":
      return count === 0 ? "Live tail: waiting for requests." : `Live tail: ${count} new ${count === 1 ? "request" : "requests"}.`;
    case "error":
      return `Live tail is not available: ${status.message}`;
  }
}

function AccessResults({
  filters,
  searchAt,
  tailOn,
  onTail,
}: {
  filters: AccessFilters;
  searchAt: number;
  tailOn: boolean;
  onTail: (on: boolean) => void;
}) {
  const { logs } = getServices();
  const checked = useMemo(() => accessQuery(filters, searchAt), [filters, searchAt]);
  const search = checked.query;
  const pages = useInfiniteQuery({
    queryKey: auditKeys.access(search ?? {}),
    enabled: search !== null,
    initialPageParam: null as string | null,
    queryFn: ({ pageParam, signal }) =>
      answer(
        auditApi().GET("/api/v1/admin/audit/access", {
          params: { query: { ...search, limit: PAGE_LIMIT, ...(pageParam ? { cursor: pageParam } : {}) } },
          signal,
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const [tail, setTail] = useState<AccessRow[]>([]);
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const tailStatus = useObservable(logs.status);

  useEffect(() => {
    if (!tailOn || search === null) return;
    return logs.watch((records) => setTail((rows) => prependLive(rows, records, search)));
  }, [tailOn, search, logs]);

  const stored = useMemo(() => (pages.data?.pages ?? []).flatMap((page) => page.items.map(storedRow)), [pages.data]);
  const rows = tail.length ? [...tail, ...stored] : stored;
  const toggle = (key: string) =>
    setOpen((keys) => {
      const next = new Set(keys);
      if (!next.delete(key)) next.add(key);
      return next;
    });

  if (search === null) {
    return (
      <p className="form-error" role="alert">
        Correct the filters to search.
      </p>
    );
  }
  return (
    <section aria-labelledby="requests-heading" aria-busy={pages.isFetching}>
      <div className="section-head">
        <h2 id="requests-heading">Requests</h2>
        <div className="actions">
          <button
            type="button"
            className="toggle"
            aria-pressed={tailOn}
            onClick={() => onTail(!tailOn)}
            data-testid="live-tail"
            title={`Put matching requests on top as they happen (the latest ${TAIL_CAP} kept)`}
          >
            Live tail
          </button>
        </div>
      </div>
      <p role="status" className="hint" data-testid="tail-status" data-state={tailOn ? tailStatus.state : "off"}>
        {tailOn ? tailText(tailStatus, tail.length) : ""}
      </p>
      <ListStatus query={pages} what="requests" />
      {pages.isSuccess && rows.length === 0 && <p data-testid="access-empty">No requests match these filters.</p>}
      {rows.length > 0 && (
        <div className="table-wrap" role="region" aria-labelledby="requests-heading" tabIndex={0}>
          <table className="admin-table audit-table" data-testid="access-table">
            <caption className="visually-hidden">
              Requests, newest first, with their status, duration, user, address and trace
            </caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Service</th>
                <th scope="col">Method</th>
                <th scope="col">Path</th>
                <th scope="col">Status</th>
                <th scope="col">Duration</th>
                <th scope="col">User</th>
                <th scope="col">IP</th>
                <th scope="col">Trace</th>
                <th scope="col">
                  <span className="visually-hidden">Details</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => {
                const r = row.record;
                const expanded = open.has(row.rowKey);
                const detailsId = `access-${row.rowKey}`;
                return (
                  <Fragment key={row.rowKey}>
                    <tr
                      data-access={r.id ?? ""}
                      data-trace={r.trace_id}
                      data-status={r.response_status}
                      data-live={row.live ? "true" : undefined}
                      className={row.live ? "row--live" : undefined}
                    >
                      <td>
                        <time dateTime={r.created_at} title={formatDate(r.created_at)}>
                          {formatClock(r.created_at)}
                        </time>
                      </td>
                      <td>{r.service}</td>
                      <td>{r.method}</td>
                      <td className="cell-path">
                        <code>{r.path}</code>
                      </td>
                      <td>
                        <StatusCode status={r.response_status} />
                      </td>
                      <td className="cell-number">{formatDuration(r.duration_ms)}</td>
                      <td className="cell-id">{r.user_id ?? "—"}</td>
                      <td>{r.ip_address ?? "—"}</td>
                      <td>
                        <TraceLink traceId={r.trace_id} />
                      </td>
                      <td>
                        <button
                          type="button"
                          className="button button--small"
                          aria-expanded={expanded}
                          aria-controls={expanded ? detailsId : undefined}
                          aria-label={`${expanded ? "Hide" : "Show"} details: ${r.method} ${r.path} at ${formatClock(r.created_at)}`}
                          onClick={() => toggle(row.rowKey)}
                        >
                          {expanded ? "Hide" : "Details"}
                        </button>
                      </td>
                    </tr>
                    {expanded && (
                      <tr className="details-row" id={detailsId}>
                        <td colSpan={10}>
                          <AccessDetails row={row} />
                        </td>
                      </tr>
                    )}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {pages.hasNextPage && (
        <p>
          <button
            type="button"
            className="button"
            disabled={pages.isFetchingNextPage}
            onClick={() => void pages.fetchNextPage()}
            data-testid="access-older"
          >
            {pages.isFetchingNextPage ? "Loading…" : "Older requests"}
          </button>
        </p>
      )}
    </section>
  );
}
