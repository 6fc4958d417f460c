/**
 * The unread count the bell shows. Every answer that carries a count carries the inbox's
 * version it is of (1, 2, 3 … per user, one per change, in commit order), from a socket frame
 * or from a REST answer: the count of the highest version seen wins, whichever arrived first.
 * So a REST answer that left the notifier before a change cannot overwrite the change's count
 * when it arrives after it, and a replayed frame cannot take the count back.
 */
import { Observable } from "../live/observable";
import type { InboxCount } from "./types";

/** The count to show after `next` arrives when `current` is shown (the same object when
 * `next` is not newer). */
export function newerCount(current: InboxCount | null, next: InboxCount): InboxCount | null {
  if (!Number.isFinite(next.version) || !Number.isFinite(next.unread)) return current;
  if (current !== null && next.version <= current.version) return current;
  return { unread: Math.max(0, next.unread), version: next.version };
}

export class UnreadCount {
  /** null until the first count arrives. */
  readonly state = new Observable<InboxCount | null>(null);

  /** Takes a count from anywhere; true when it is the newest so far. */
  apply(count: InboxCount): boolean {
    const current = this.state.get();
    const next = newerCount(current, count);
    if (next === current) return false;
    this.state.set(next);
    return true;
  }

  reset(): void {
    this.state.set(null);
  }
}

/** The bell's accessible name. */
export function unreadLabel(unread: number | null): string {
  if (unread === null) return "Notifications";
  if (unread === 0) return "Notifications, none unread";
  return `Notifications, ${unread} unread`;
}

/** The badge's text: "99+" beyond 99. */
export function badgeText(unread: number): string {
  return unread > 99 ? "99+" : String(unread);
}
