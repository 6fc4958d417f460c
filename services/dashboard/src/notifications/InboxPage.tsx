/**
 * The inbox: the signed-in user's own notifications, newest first, one filter at a time
 * (unread, read, archived, all), older pages on request; mark read or unread, mark all read,
 * archive, follow a notification's link. Opening it marks what it shows as seen. Changes made
 * on other devices (or by this one) arrive on the socket and are applied in place (./inbox.ts).
 */
import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import type { Me } from "../api/gateway.gen";
import { answer, errorMessage } from "../api/http";
import { classHref, inboxHref, seriesHref } from "../app/router";
import { getServices } from "../app/services";
import { formatDate } from "../format";
import { FeedbackLine, type Feedback } from "../ui/Feedback";
import { useObservable, useTitle } from "../ui/hooks";
import { emptyInbox, inboxReducer, linkTarget } from "./inbox";
import { isChange, PAGE_SIZE, type InboxState, type MarkChange, type Notification } from "./types";

const FILTERS: ReadonlyArray<{ state: InboxState; label: string }> = [
  { state: "unread", label: "Unread" },
  { state: "read", label: "Read" },
  { state: "archived", label: "Archived" },
  { state: "all", label: "All" },
];

const KIND_LABEL: Record<Notification["kind"], string> = {
  info: "Info",
  success: "Success",
  warning: "Warning",
  error: "Error",
};

const HREFS = {
  series: (source: string, name: string) => seriesHref(source, name),
  cls: (classId: string, student?: string) => classHref(classId, { student: student ?? null }),
};

export function InboxPage({ me, filter }: { me: Me; filter: InboxState }) {
  useTitle("Notifications");
  const { api, notifications } = getServices();
  const [inbox, dispatch] = useReducer(inboxReducer, filter, emptyInbox);
  const [loading, setLoading] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [feedback, setFeedback] = useState<Feedback | null>(null);
  const [busy, setBusy] = useState(false);
  const count = useObservable(notifications.count.state);
  const seenAsked = useRef(false);
  const request = useRef<AbortController | null>(null);

  const load = useCallback(
    (state: InboxState, beforeId: number | null) => {
      request.current?.abort();
      const controller = new AbortController();
      request.current = controller;
      setLoading(true);
      setLoadError(null);
      const query = beforeId === null ? { state, limit: PAGE_SIZE } : { state, limit: PAGE_SIZE, before_id: beforeId };
      answer(api.GET("/api/v1/notifications", { params: { query }, signal: controller.signal })).then(
        (page) => {
          if (controller.signal.aborted) return;
          notifications.apply(page);
          dispatch({ type: "page", filter: state, page, append: beforeId !== null });
          setLoading(false);
        },
        (error: unknown) => {
          if (controller.signal.aborted) return;
          setLoadError(errorMessage(error));
          setLoading(false);
        },
      );
    },
    [api, notifications],
  );

  // A new filter: a new first page.
  useEffect(() => {
    dispatch({ type: "filter", filter });
    load(filter, null);
  }, [filter, load]);
  useEffect(() => () => request.current?.abort(), []);

  // Live changes, from this user's other devices and this one.
  useEffect(
    () =>
      notifications.watch({
        onChange: (frame) =>
          isChange(frame.change) &&
          dispatch({
            type: "change",
            change: frame.change,
            ids: frame.ids ?? [],
            notification: frame.notification ?? null,
            version: frame.version,
            at: new Date().toISOString(),
          }),
        onGap: () => load(filter, null),
      }),
    [notifications, filter, load],
  );

  // The list may miss something (a change it cannot place): read it again.
  useEffect(() => {
    if (inbox.stale && !loading) load(inbox.filter, null);
  }, [inbox.stale, inbox.filter, loading, load]);

  const mark = useCallback(
    async (change: MarkChange, target: { ids: number[] } | { all: true }, done?: string): Promise<void> => {
      setBusy(true);
      try {
        const result = await answer(api.POST("/api/v1/notifications/mark", { body: { change, ...target } }));
        notifications.apply(result);
        dispatch({ type: "change", change, ids: result.changed ?? [], version: result.version, at: new Date().toISOString() });
        if (done) setFeedback({ kind: "ok", text: done });
      } catch (error) {
        setFeedback({ kind: "error", text: `Could not change the notifications: ${errorMessage(error)}` });
      } finally {
        setBusy(false);
      }
    },
    [api, notifications],
  );

  // Opening the inbox marks what it shows as seen (once per visit).
  useEffect(() => {
    if (seenAsked.current || !inbox.loaded) return;
    const unseen = inbox.items.filter((n) => n.seen_at == null).map((n) => n.id);
    if (unseen.length === 0) return;
    seenAsked.current = true;
    answer(api.POST("/api/v1/notifications/mark", { body: { change: "seen", ids: unseen } })).then(
      (result) => {
        notifications.apply(result);
        dispatch({ type: "change", change: "seen", ids: result.changed ?? [], version: result.version, at: new Date().toISOString() });
      },
      () => {
        /* seen is a hint; the next visit asks again */
      },
    );
  }, [inbox.loaded, inbox.items, api, notifications]);

  const unread = count?.unread ?? null;

  return (
    <>
      <h1 tabIndex={-1}>Notifications</h1>
      <div className="inbox-bar">
        <p className="inbox-count" data-testid="inbox-unread">
          {unread === null ? "" : unread === 0 ? "No unread notifications." : `${unread} unread.`}
        </p>
        <div className="actions">
          <button
            type="button"
            className="button"
            disabled={busy || unread === 0}
            onClick={() => void mark("read", { all: true }, "Every notification is marked read.")}
          >
            Mark all read
          </button>
          {me.role === "admin" && (
            <a className="button" href="#/admin/notify">
              Send a notification
            </a>
          )}
        </div>
      </div>
      <nav aria-label="Filter notifications" className="range-buttons inbox-filters">
        {FILTERS.map((f) => (
          <a key={f.state} className="toggle" href={inboxHref(f.state)} aria-current={f.state === filter ? "page" : undefined}>
            {f.label}
          </a>
        ))}
      </nav>
      <FeedbackLine feedback={feedback} />
      <section aria-labelledby="inbox-list-heading" aria-busy={loading}>
        <h2 id="inbox-list-heading" className="visually-hidden">
          {FILTERS.find((f) => f.state === filter)?.label} notifications
        </h2>
        {loadError && (
          <p className="form-error" role="alert">
            Could not load the notifications: {loadError}{" "}
            <button type="button" className="button button--small" onClick={() => load(filter, null)}>
              Try again
            </button>
          </p>
        )}
        {!inbox.loaded && loading && <p role="status">Loading notifications…</p>}
        {inbox.loaded && inbox.items.length === 0 && (
          <p data-testid="inbox-empty">{filter === "unread" ? "Nothing unread." : "No notifications here."}</p>
        )}
        {inbox.items.length > 0 && (
          <ul className="inbox-list" data-testid="inbox-list">
            {inbox.items.map((n) => (
              <InboxItem key={n.id} notification={n} busy={busy} onMark={(change, done) => void mark(change, { ids: [n.id] }, done)} />
            ))}
          </ul>
        )}
        {inbox.loaded && inbox.next !== null && (
          <button type="button" className="button" disabled={loading} onClick={() => load(filter, inbox.next)}>
            {loading ? "Loading…" : "Load more"}
          </button>
        )}
      </section>
    </>
  );
}

function InboxItem({
  notification: n,
  busy,
  onMark,
}: {
  notification: Notification;
  busy: boolean;
  onMark: (change: MarkChange, done: string) => void;
}) {
  const read = n.read_at != null;
  const archived = n.archived_at != null;
  const target = n.link ? linkTarget(n.link, HREFS) : null;
  const titleId = `notification-${n.id}`;
  return (
    <li
      className={`inbox-item inbox-item--${n.kind}${read ? "" : " inbox-item--unread"}`}
      data-notification={n.id}
      data-read={read ? "true" : "false"}
      aria-labelledby={titleId}
    >
      <div className="inbox-head">
        <span className={`kind kind--${n.kind}`}>{KIND_LABEL[n.kind]}</span>
        <h3 id={titleId} className="inbox-title">
          {!read && <span className="visually-hidden">Unread: </span>}
          {n.title}
        </h3>
        <time dateTime={n.created_at} className="inbox-time">
          {formatDate(n.created_at)}
        </time>
      </div>
      {n.body && <p className="inbox-body">{n.body}</p>}
      <div className="inbox-foot">
        {target && "href" in target && (
          <a href={target.href} onClick={() => !read && onMark("read", "")}>
            {target.label}
          </a>
        )}
        {target && "trace" in target && (
          <span>
            Trace <code>{target.trace}</code>
          </span>
        )}
        <span className="inbox-source">{n.source === "rule" ? "From an alert rule" : n.source === "system" ? "From Pulse" : "From an admin"}</span>
        <div className="actions">
          {!archived && (
            <button
              type="button"
              className="button button--small"
              disabled={busy}
              onClick={() => onMark(read ? "unread" : "read", read ? `“${n.title}” is unread again.` : `“${n.title}” is read.`)}
              aria-label={`${read ? "Mark unread" : "Mark read"}: ${n.title}`}
            >
              {read ? "Mark unread" : "Mark read"}
            </button>
          )}
          {!archived && (
            <button
              type="button"
              className="button button--small"
              disabled={busy}
              onClick={() => onMark("archived", `“${n.title}” is archived.`)}
              aria-label={`Archive: ${n.title}`}
            >
              Archive
            </button>
          )}
        </div>
      </div>
    </li>
  );
}
