/**
 * The inbox page's list, framework-free (a reducer): pages read over REST, changes from the
 * socket or from the person's own marks applied to it, each idempotently (a change applied
 * twice, or a replayed frame, changes nothing more).
 *
 * The list shows one filter (unread, read, archived or all not archived). A change that moves
 * a listed notification out of the filter removes it; one that may move a notification the
 * list does not hold into it (read, with the "read" filter) marks the list `stale`, and the
 * page reads the first page again. So does a page older than a change already applied (its
 * version is lower): the page may miss that change.
 */
import type { ChangeKind, InboxState, Notification, NotificationPage } from "./types";

export interface Inbox {
  filter: InboxState;
  /** Newest first (by id), each once. */
  items: Notification[];
  /** The cursor of the next older page; null when there is none. */
  next: number | null;
  /** The first page has arrived. */
  loaded: boolean;
  /** The list may miss notifications that belong to the filter: read the first page again. */
  stale: boolean;
  /** The highest inbox version applied (a page's or a change's). */
  version: number;
}

export interface InboxChangeAction {
  type: "change";
  change: ChangeKind;
  ids: number[];
  notification?: Notification | null;
  /** The inbox version after the change (null: the person's own mark before its answer). */
  version: number | null;
  /** When it happened, for read_at, seen_at and archived_at (frames carry no time). */
  at: string;
}

export type InboxAction =
  | { type: "filter"; filter: InboxState }
  | { type: "page"; filter: InboxState; page: NotificationPage; append: boolean }
  | InboxChangeAction;

export function emptyInbox(filter: InboxState): Inbox {
  return { filter, items: [], next: null, loaded: false, stale: false, version: 0 };
}

/** Whether a notification belongs in a filter's list. */
export function matches(notification: Notification, filter: InboxState): boolean {
  const archived = notification.archived_at != null;
  switch (filter) {
    case "archived":
      return archived;
    case "all":
      return !archived;
    case "unread":
      return !archived && notification.read_at == null;
    case "read":
      return !archived && notification.read_at != null;
  }
}

/** The filter a change may bring notifications into (that the list does not hold yet). */
function bringsInto(change: ChangeKind): InboxState | null {
  switch (change) {
    case "read":
      return "read";
    case "unread":
      return "unread";
    case "archived":
      return "archived";
    default:
      return null;
  }
}

function newestFirst(items: Notification[]): Notification[] {
  return items.sort((a, b) => b.id - a.id);
}

function changed(notification: Notification, change: ChangeKind, at: string): Notification {
  switch (change) {
    case "read":
      return notification.read_at != null ? notification : { ...notification, read_at: at };
    case "unread":
      return notification.read_at == null ? notification : { ...notification, read_at: null };
    case "seen":
      return notification.seen_at != null ? notification : { ...notification, seen_at: at };
    case "archived":
      return notification.archived_at != null ? notification : { ...notification, archived_at: at };
    case "created":
      return notification;
  }
}

export function inboxReducer(state: Inbox, action: InboxAction): Inbox {
  switch (action.type) {
    case "filter":
      return action.filter === state.filter ? state : { ...emptyInbox(action.filter), version: state.version };
    case "page": {
      if (action.filter !== state.filter) return state; // an answer for a filter left since
      const { page } = action;
      const older = page.version < state.version;
      if (!action.append) {
        // Notifications that arrived live while the page was on its way stay.
        const ids = new Set(page.items.map((n) => n.id));
        const newest = page.items[0]?.id ?? 0;
        const kept = state.items.filter((n) => !ids.has(n.id) && n.id > newest && matches(n, state.filter));
        return {
          ...state,
          items: newestFirst([...kept, ...page.items.filter((n) => matches(n, state.filter))]),
          next: page.next_before_id,
          loaded: true,
          stale: older,
          version: Math.max(state.version, page.version),
        };
      }
      const have = new Set(state.items.map((n) => n.id));
      const more = page.items.filter((n) => !have.has(n.id) && matches(n, state.filter));
      return {
        ...state,
        items: more.length ? newestFirst([...state.items, ...more]) : state.items,
        next: page.next_before_id,
        stale: state.stale || older,
        version: Math.max(state.version, page.version),
      };
    }
    case "change":
      return applyChange(state, action);
  }
}

function applyChange(state: Inbox, action: InboxChangeAction): Inbox {
  const version = action.version === null ? state.version : Math.max(state.version, action.version);
  if (action.change === "created") {
    const created = action.notification;
    if (!created || state.items.some((n) => n.id === created.id) || !matches(created, state.filter)) {
      return version === state.version ? state : { ...state, version };
    }
    return { ...state, items: newestFirst([...state.items, created]), version };
  }
  const ids = new Set(action.ids);
  let touched = false;
  const items: Notification[] = [];
  const held = new Set<number>();
  for (const notification of state.items) {
    if (!ids.has(notification.id)) {
      items.push(notification);
      continue;
    }
    held.add(notification.id);
    const next = changed(notification, action.change, action.at);
    if (next !== notification) touched = true;
    if (matches(next, state.filter)) items.push(next);
    else touched = true;
  }
  const missing = action.ids.some((id) => !held.has(id));
  const stale = state.stale || (missing && bringsInto(action.change) === state.filter);
  if (!touched && stale === state.stale && version === state.version) return state;
  return { ...state, items: touched ? items : state.items, stale, version };
}

/** Where a notification's link leads: a dashboard page (hash), or a trace id to show. */
export type LinkTarget = { href: string; label: string } | { trace: string };

export function linkTarget(
  link: { kind: string; target: string },
  hrefs: {
    series: (source: string, name: string) => string;
    cls: (classId: string, student?: string) => string;
  },
): LinkTarget | null {
  const target = link.target;
  const colon = target.indexOf(":");
  switch (link.kind) {
    case "series":
      if (colon <= 0 || colon === target.length - 1) return null;
      return {
        href: hrefs.series(target.slice(0, colon), target.slice(colon + 1)),
        label: `Open the series ${target.slice(colon + 1)} (${target.slice(0, colon)})`,
      };
    case "class":
      return target ? { href: hrefs.cls(target), label: `Open the class ${target}` } : null;
    case "student":
      if (colon <= 0 || colon === target.length - 1) return null;
      return {
        href: hrefs.cls(target.slice(0, colon), target.slice(colon + 1)),
        label: `Open ${target.slice(colon + 1)}’s timeline in ${target.slice(0, colon)}`,
      };
    case "trace":
      return target ? { trace: target } : null;
    default:
      return null;
  }
}
