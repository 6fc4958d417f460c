/**
 * The live activity feed: the class channel's latest events (its history, then live), newest
 * first, each with its student, cell and outcome.
 */
import { cellNumber } from "./heatmap";
import type { NotebookEvent } from "./types";

export interface FeedItem {
  id: string;
  time: number;
  student: string;
  /** The cell's number (from 1), for events about a cell. */
  cell: number | null;
  notebook: string | null;
  outcome: "ok" | "error" | "other";
  /** The error's name, or the event type for events that are not cell executions. */
  detail: string | null;
}

export const FEED_LENGTH = 50;

/** Newest first by event time (equal times: the later arrival first), each event once. */
export function feedItems(events: readonly NotebookEvent[], limit = FEED_LENGTH): FeedItem[] {
  const seen = new Set<string>();
  const items: Array<FeedItem & { order: number }> = [];
  events.forEach((event, order) => {
    if (seen.has(event.eventId)) return;
    seen.add(event.eventId);
    const time = Date.parse(event.eventTime);
    if (!Number.isFinite(time)) return;
    const executed = event.eventType === "cell_executed";
    const failed = executed && event.hasError === true;
    items.push({
      id: event.eventId,
      time,
      student: event.userId,
      cell: typeof event.cellIndex === "number" ? cellNumber(event.cellIndex) : null,
      notebook: event.notebookPath ?? null,
      outcome: !executed ? "other" : failed ? "error" : "ok",
      detail: failed ? (event.errorName ?? "error") : executed ? null : event.eventType,
      order,
    });
  });
  items.sort((a, b) => b.time - a.time || b.order - a.order);
  return items.slice(0, limit).map(({ order: _order, ...item }) => item);
}

const VERBS: Record<string, string> = {
  notebook_opened: "opened the notebook",
  notebook_saved: "saved the notebook",
  kernel_restarted: "restarted the kernel",
};

/** What the student did, in words: "ran cell 3", "ran cell 1: ValueError", "restarted the kernel". */
export function describeAction(item: FeedItem): string {
  const cell = item.cell !== null ? ` cell ${item.cell}` : " a cell";
  switch (item.outcome) {
    case "ok":
      return `ran${cell}`;
    case "error":
      return `ran${cell}: ${item.detail}`;
    default:
      return VERBS[item.detail ?? ""] ?? `sent ${(item.detail ?? "an event").replace(/_/g, " ")}`;
  }
}

/** One feed item in words (its text alternative). */
export function describeItem(item: FeedItem): string {
  return `${item.student} ${describeAction(item)}`;
}
