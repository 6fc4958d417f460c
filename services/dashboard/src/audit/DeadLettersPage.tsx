/**
 * Dead letters (admins): the messages persistence or ingest refused, by status, origin and
 * trace (the filters live in the URL), newest first. Each shows its reason and the start of
 * its bytes as escaped text; "Bytes" opens the whole message: its headers and a hex and ASCII
 * dump. Select one or many, then Replay (after a fix: the original bytes go to their subject
 * again) or Discard, after a confirmation; the answer says which changed and which were
 * skipped (no longer pending).
 */
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useId, useMemo, useState, type FormEvent } from "react";
import { answer, errorMessage } from "../api/http";
import { navigate } from "../app/router";
import { formatBytes, formatDate } from "../format";
import { NeedAdmin } from "../pages/NotFoundPage";
import { Dialog } from "../ui/Dialog";
import { FeedbackLine, ListStatus, type Feedback } from "../ui/Feedback";
import { useTitle } from "../ui/hooks";
import { auditApi, auditKeys, PAGE_LIMIT } from "./api";
import { base64Bytes, hexDump, visibleText } from "./bytes";
import { confirmText, describeDecision, toggleSelection, type Decision } from "./deadLetters";
import {
  deadLetterFiltersQuery,
  deadLettersHref,
  deadLettersQuery,
  parseDeadLetterFilters,
  parseTraceId,
  TRACE_ERROR,
  type DeadLetterFilters,
} from "./filters";
import { HeadersTable, TraceLink } from "./RecordParts";
import { DEAD_LETTER_STATUSES, type DeadLetterStatus, type StoredDeadLetter } from "./types";

const STATUS_LABEL: Record<DeadLetterStatus, string> = {
  pending: "Pending",
  replayed: "Replayed",
  discarded: "Discarded",
};

export function DeadLettersPage({ isAdmin, query }: { isAdmin: boolean; query: string }) {
  if (!isAdmin) return <NeedAdmin title="Dead letters" />;
  return <DeadLetters key={query} query={query} />;
}

function DeadLetters({ query }: { query: string }) {
  useTitle("Dead letters");
  const filters = useMemo(() => parseDeadLetterFilters(query), [query]);
  return (
    <>
      <h1 tabIndex={-1}>Dead letters</h1>
      <p>
        Messages that were refused on their way in or could not be stored, with the reason. Replay them after the cause
        is fixed, or discard them.
      </p>
      <DeadLetterFilterForm filters={filters} />
      <DeadLetterList filters={filters} />
    </>
  );
}

function DeadLetterFilterForm({ filters }: { filters: DeadLetterFilters }) {
  const id = useId();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState(filters);
  const [traceError, setTraceError] = useState<string | null>(parseTraceId(filters.trace) === null ? TRACE_ERROR : null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (parseTraceId(draft.trace) === null) {
      setTraceError(TRACE_ERROR);
      return;
    }
    setTraceError(null);
    const href = deadLettersHref(draft);
    if (href === window.location.hash) void queryClient.invalidateQueries({ queryKey: auditKeys.deadLetters });
    else navigate(href);
  };
  return (
    <form className="filter-form" aria-label="Filter dead letters" onSubmit={submit} noValidate data-testid="deadletter-filters">
      <div className="field">
        <label htmlFor={`${id}-status`}>Status</label>
        <select
          id={`${id}-status`}
          value={draft.status}
          onChange={(event) => setDraft((d) => ({ ...d, status: event.target.value as DeadLetterStatus | "" }))}
        >
          {DEAD_LETTER_STATUSES.map((s) => (
            <option key={s} value={s}>
              {STATUS_LABEL[s]}
            </option>
          ))}
          <option value="">Any</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor={`${id}-origin`}>Origin</label>
        <input
          id={`${id}-origin`}
          value={draft.origin}
          maxLength={500}
          autoComplete="off"
          aria-describedby={`${id}-origin-hint`}
          onChange={(event) => setDraft((d) => ({ ...d, origin: event.target.value }))}
        />
        <span id={`${id}-origin-hint`} className="hint">
          Where it was refused: ingest, persistence…
        </span>
      </div>
      <div className="field">
        <label htmlFor={`${id}-trace`}>Trace id</label>
        <input
          id={`${id}-trace`}
          value={draft.trace}
          size={34}
          spellCheck={false}
          autoComplete="off"
          aria-invalid={traceError ? true : undefined}
          aria-describedby={traceError ? `${id}-trace-error` : undefined}
          onChange={(event) => setDraft((d) => ({ ...d, trace: event.target.value }))}
        />
        {traceError && (
          <span id={`${id}-trace-error`} className="field-error">
            {traceError}
          </span>
        )}
      </div>
      <div className="filter-actions">
        <button type="submit" className="button button--primary">
          Search
        </button>
        <a className="button" href={deadLettersHref()}>
          Clear
        </a>
      </div>
    </form>
  );
}

function DeadLetterList({ filters }: { filters: DeadLetterFilters }) {
  const queryClient = useQueryClient();
  const checked = useMemo(() => deadLettersQuery(filters), [filters]);
  const search = checked.query;
  const pages = useInfiniteQuery({
    queryKey: auditKeys.deadLetterList({ ...search, key: deadLetterFiltersQuery(filters) }),
    enabled: search !== null,
    initialPageParam: null as string | null,
    queryFn: ({ pageParam, signal }) =>
      answer(
        auditApi().GET("/api/v1/admin/audit/dead-letters", {
          params: { query: { ...search, limit: PAGE_LIMIT, ...(pageParam ? { cursor: pageParam } : {}) } },
          signal,
        }),
      ),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const letters = useMemo(() => (pages.data?.pages ?? []).flatMap((page) => page.items), [pages.data]);
  const [selected, setSelected] = useState<ReadonlySet<number>>(new Set());
  const [open, setOpen] = useState<ReadonlySet<number>>(new Set());
  const [asking, setAsking] = useState<Decision | null>(null);
  const [feedback, setFeedback] = useState<Feedback | null>(null);
  const chosen = letters.filter((l) => selected.has(l.id)).map((l) => l.id);
  const allOn = letters.length > 0 && chosen.length === letters.length;

  const decide = useMutation({
    mutationFn: ({ decision, ids }: { decision: Decision; ids: number[] }) =>
      answer(
        decision === "replay"
          ? auditApi().POST("/api/v1/admin/audit/dead-letters/replay", { body: { ids } })
          : auditApi().POST("/api/v1/admin/audit/dead-letters/discard", { body: { ids } }),
      ),
    onSuccess: (result, { decision }) => {
      setAsking(null);
      setSelected(new Set());
      setFeedback({ kind: "ok", text: describeDecision(decision, result) });
      return queryClient.invalidateQueries({ queryKey: auditKeys.deadLetters });
    },
    onError: (error, { decision }) => {
      setAsking(null);
      setFeedback({ kind: "error", text: `Could not ${decision} the dead letters: ${errorMessage(error)}` });
    },
  });

  if (search === null) {
    return (
      <p className="form-error" role="alert">
        Correct the filters to search.
      </p>
    );
  }
  return (
    <section aria-labelledby="letters-heading" aria-busy={pages.isFetching}>
      <div className="section-head">
        <h2 id="letters-heading">{filters.status ? `${STATUS_LABEL[filters.status]} dead letters` : "Dead letters"}</h2>
        <div className="actions" role="group" aria-label="With the selected dead letters">
          <button
            type="button"
            className="button button--primary"
            disabled={chosen.length === 0 || decide.isPending}
            onClick={() => setAsking("replay")}
            data-testid="replay-selected"
          >
            Replay{chosen.length ? ` ${chosen.length}` : ""}
          </button>
          <button
            type="button"
            className="button button--danger"
            disabled={chosen.length === 0 || decide.isPending}
            onClick={() => setAsking("discard")}
            data-testid="discard-selected"
          >
            Discard{chosen.length ? ` ${chosen.length}` : ""}
          </button>
        </div>
      </div>
      <div data-testid="deadletters-result">
        <FeedbackLine feedback={feedback} />
      </div>
      <ListStatus query={pages} what="dead letters" />
      {pages.isSuccess && letters.length === 0 && <p data-testid="deadletters-empty">No dead letters match these filters.</p>}
      {letters.length > 0 && (
        <div className="table-wrap" role="region" aria-labelledby="letters-heading" tabIndex={0}>
          <table className="admin-table audit-table" data-testid="deadletters-table">
            <caption className="visually-hidden">Dead letters, newest first, with their reason and first bytes</caption>
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="Select every dead letter shown"
                    checked={allOn}
                    onChange={(event) =>
                      setSelected((s) => toggleSelection(s, letters.map((l) => l.id), event.target.checked))
                    }
                  />
                </th>
                <th scope="col">Received</th>
                <th scope="col">Origin</th>
                <th scope="col">Reason</th>
                <th scope="col">Size</th>
                <th scope="col">Status</th>
                <th scope="col">First bytes</th>
                <th scope="col">Trace</th>
                <th scope="col">
                  <span className="visually-hidden">Bytes</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {letters.map((letter) => (
                <LetterRow
                  key={letter.id}
                  letter={letter}
                  selected={selected.has(letter.id)}
                  onSelect={(on) => setSelected((s) => toggleSelection(s, [letter.id], on))}
                  expanded={open.has(letter.id)}
                  onExpand={() =>
                    setOpen((ids) => {
                      const next = new Set(ids);
                      if (!next.delete(letter.id)) next.add(letter.id);
                      return next;
                    })
                  }
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {pages.hasNextPage && (
        <p>
          <button type="button" className="button" disabled={pages.isFetchingNextPage} onClick={() => void pages.fetchNextPage()}>
            {pages.isFetchingNextPage ? "Loading…" : "Older dead letters"}
          </button>
        </p>
      )}
      <Dialog
        open={asking !== null}
        title={asking === "discard" ? "Discard dead letters" : "Replay dead letters"}
        onClose={() => !decide.isPending && setAsking(null)}
      >
        {asking && (
          <form
            method="dialog"
            onSubmit={(event) => {
              event.preventDefault();
              decide.mutate({ decision: asking, ids: chosen });
            }}
          >
            <p>{confirmText(asking, chosen.length)}</p>
            <div className="dialog-actions">
              <button type="button" className="button" onClick={() => setAsking(null)} disabled={decide.isPending}>
                Cancel
              </button>
              <button
                type="submit"
                className={asking === "discard" ? "button button--danger" : "button button--primary"}
                disabled={decide.isPending}
                data-testid="confirm-decision"
              >
                {decide.isPending ? "Working…" : asking === "discard" ? "Discard" : "Replay"}
              </button>
            </div>
          </form>
        )}
      </Dialog>
    </section>
  );
}

function LetterRow({
  letter,
  selected,
  onSelect,
  expanded,
  onExpand,
}: {
  letter: StoredDeadLetter;
  selected: boolean;
  onSelect: (on: boolean) => void;
  expanded: boolean;
  onExpand: () => void;
}) {
  const bytesId = `letter-${letter.id}-bytes`;
  return (
    <Fragment>
      <tr data-letter={letter.id} data-status={letter.status} data-trace={letter.trace_id ?? ""}>
        <td>
          <input
            type="checkbox"
            checked={selected}
            aria-label={`Select dead letter #${letter.id} from ${letter.origin}`}
            onChange={(event) => onSelect(event.target.checked)}
          />
        </td>
        <td>
          <time dateTime={letter.received_at}>{formatDate(letter.received_at)}</time>
        </td>
        <td>
          <code>{letter.origin}</code>
        </td>
        <td className="cell-error">{visibleText(letter.reason)}</td>
        <td className="cell-number">{formatBytes(letter.size)}</td>
        <td>
          <span className={`letter-status letter-status--${letter.status}`}>{STATUS_LABEL[letter.status]}</span>
          {letter.replays ? <span className="hint"> ×{letter.replays}</span> : null}
        </td>
        <td className="cell-preview">
          <code className="preview" data-testid="letter-preview">
            {visibleText(letter.preview)}
          </code>
        </td>
        <td>
          <TraceLink traceId={letter.trace_id} />
        </td>
        <td>
          <button
            type="button"
            className="button button--small"
            aria-expanded={expanded}
            aria-controls={expanded ? bytesId : undefined}
            aria-label={`${expanded ? "Hide" : "Show"} the bytes of dead letter #${letter.id}`}
            onClick={onExpand}
          >
            {expanded ? "Hide" : "Bytes"}
          </button>
        </td>
      </tr>
      {expanded && (
        <tr className="details-row" id={bytesId}>
          <td colSpan={9}>
            <LetterBytes id={letter.id} />
          </td>
        </tr>
      )}
    </Fragment>
  );
}

function LetterBytes({ id }: { id: number }) {
  const shown = useQuery({
    queryKey: auditKeys.deadLetter(id),
    queryFn: ({ signal }) =>
      answer(auditApi().GET("/api/v1/admin/audit/dead-letters/{letter_id}", { params: { path: { letter_id: id } }, signal })),
  });
  const letter = shown.data?.letter;
  const bytes = letter?.data ? base64Bytes(letter.data) : null;
  const dump = bytes ? hexDump(bytes) : null;
  return (
    <div className="record-details" data-testid="letter-bytes">
      <ListStatus query={shown} what="message" />
      {letter && (
        <>
          <dl className="facts">
            <dt>Reason</dt>
            <dd>{visibleText(letter.reason)}</dd>
            {letter.replayed_at && (
              <>
                <dt>Replayed</dt>
                <dd>
                  {formatDate(letter.replayed_at)}
                  {letter.replayed_by ? ` by ${letter.replayed_by}` : ""}
                </dd>
              </>
            )}
            {letter.discarded_at && (
              <>
                <dt>Discarded</dt>
                <dd>
                  {formatDate(letter.discarded_at)}
                  {letter.discarded_by ? ` by ${letter.discarded_by}` : ""}
                </dd>
              </>
            )}
          </dl>
          <HeadersTable headers={letter.headers ?? {}} caption="Headers" />
          {dump ? (
            <>
              <p className="hint">
                {formatBytes(dump.total)}
                {dump.shown < dump.total ? `; the first ${formatBytes(dump.shown)} shown` : ""}, as hexadecimal and ASCII
                (anything not printable as “.”):
              </p>
              <pre className="code-block hex-dump" data-testid="hex-dump" tabIndex={0} aria-label={`Bytes of dead letter #${id}`}>
                {dump.lines.join("\n")}
              </pre>
            </>
          ) : (
            <p className="hint">{letter.data === "" ? "The message is empty." : "The message’s bytes are not available."}</p>
          )}
        </>
      )}
    </div>
  );
}
