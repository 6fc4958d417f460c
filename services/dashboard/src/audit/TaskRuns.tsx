/**
 * The Logs page's "Task runs" tab: runs of multi-step tasks (bulk imports, retention, dead-
 * letter decisions…) newest first, by time, name and outcome, each with its steps counted, its
 * error when it failed, and a link to its trace (where its steps are).
 */
import { useInfiniteQuery } from "@tanstack/react-query";
import { useId, useMemo, useState, type FormEvent } from "react";
import { answer } from "../api/http";
import { navigate } from "../app/router";
import { formatDate } from "../format";
import { ListStatus } from "../ui/Feedback";
import { auditApi, auditKeys, PAGE_LIMIT } from "./api";
import { parseTaskFilters, tasksHref, tasksQuery, type TaskFilters } from "./filters";
import { RangeFields } from "./RangeFields";
import { visibleText } from "./bytes";
import { StepBadge, TraceLink } from "./RecordParts";
import { STEP_STATUSES, type StepStatus } from "./types";

const OUTCOME_LABEL: Record<StepStatus, string> = {
  START: "Started",
  IN_PROGRESS: "In progress",
  SUCCESS: "Succeeded",
  FAILED: "Failed",
};

export function TaskRuns({ query }: { query: string }) {
  const filters = useMemo(() => parseTaskFilters(query), [query]);
  const [searchAt, setSearchAt] = useState(() => Date.now());
  return (
    <>
      <TaskFilterForm filters={filters} onSearchAgain={() => setSearchAt(Date.now())} />
      <TaskResults key={searchAt} filters={filters} searchAt={searchAt} />
    </>
  );
}

function TaskFilterForm({ filters, onSearchAgain }: { filters: TaskFilters; onSearchAgain: () => void }) {
  const id = useId();
  const [draft, setDraft] = useState(filters);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const href = tasksHref(draft);
    if (href === window.location.hash) onSearchAgain();
    else navigate(href);
  };
  return (
    <form className="filter-form" aria-label="Filter task runs" onSubmit={submit} noValidate data-testid="task-filters">
      <RangeFields range={draft.range} onChange={(range) => setDraft((d) => ({ ...d, range }))} />
      <div className="field">
        <label htmlFor={`${id}-task`}>Task</label>
        <input
          id={`${id}-task`}
          value={draft.task}
          maxLength={500}
          autoComplete="off"
          onChange={(event) => setDraft((d) => ({ ...d, task: event.target.value }))}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-outcome`}>Status</label>
        <select
          id={`${id}-outcome`}
          value={draft.outcome}
          onChange={(event) => setDraft((d) => ({ ...d, outcome: event.target.value as StepStatus | "" }))}
        >
          <option value="">Any</option>
          {STEP_STATUSES.filter((s) => s !== "START").map((s) => (
            <option key={s} value={s}>
              {OUTCOME_LABEL[s]}
            </option>
          ))}
        </select>
      </div>
      <div className="filter-actions">
        <button type="submit" className="button button--primary">
          Search
        </button>
        <a className="button" href={tasksHref()}>
          Clear
        </a>
      </div>
    </form>
  );
}

function durationText(startedAt: string, updatedAt: string): string {
  const ms = Date.parse(updatedAt) - Date.parse(startedAt);
  if (!Number.isFinite(ms) || ms < 0) return "—";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function TaskResults({ filters, searchAt }: { filters: TaskFilters; searchAt: number }) {
  const search = useMemo(() => tasksQuery(filters, searchAt), [filters, searchAt]);
  const pages = useInfiniteQuery({
    queryKey: auditKeys.tasks(search),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam, signal }) =>
      answer(
        auditApi().GET("/api/v1/admin/audit/tasks", {
          params: { query: { ...search, limit: PAGE_LIMIT, ...(pageParam ? { cursor: pageParam } : {}) } },
          signal,
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const runs = (pages.data?.pages ?? []).flatMap((page) => page.items);

  return (
    <section aria-labelledby="tasks-heading" aria-busy={pages.isFetching}>
      <h2 id="tasks-heading">Task runs</h2>
      <ListStatus query={pages} what="task runs" />
      {pages.isSuccess && runs.length === 0 && <p data-testid="tasks-empty">No task runs match these filters.</p>}
      {runs.length > 0 && (
        <div className="table-wrap" role="region" aria-labelledby="tasks-heading" tabIndex={0}>
          <table className="admin-table audit-table" data-testid="tasks-table">
            <caption className="visually-hidden">Task runs, newest first, with their status, steps and error</caption>
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Status</th>
                <th scope="col">Steps</th>
                <th scope="col">Started</th>
                <th scope="col">Took</th>
                <th scope="col">Service</th>
                <th scope="col">Error</th>
                <th scope="col">Trace</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((run) => (
                <tr key={run.task_id} data-task={run.task_id} data-task-name={run.task_name} data-status={run.status}>
                  <th scope="row">{run.task_name}</th>
                  <td>
                    <StepBadge status={run.status} />
                  </td>
                  <td className="cell-number">{run.steps}</td>
                  <td>
                    <time dateTime={run.started_at}>{formatDate(run.started_at)}</time>
                  </td>
                  <td className="cell-number">{durationText(run.started_at, run.updated_at)}</td>
                  <td>{run.service}</td>
                  <td className="cell-error">{run.error_message ? visibleText(run.error_message) : "—"}</td>
                  <td>
                    <TraceLink traceId={run.trace_id} />
                  </td>
                </tr>
              ))}
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
          >
            {pages.isFetchingNextPage ? "Loading…" : "Older runs"}
          </button>
        </p>
      )}
    </section>
  );
}
