/**
 * The dead-letter queue's decisions: what a replay or discard of the selected letters says
 * back (changed, skipped), and the selection itself (by id, at most the API's MAX_IDS).
 */
import { MAX_IDS, type DeadLettersChanged } from "./types";

export type Decision = "replay" | "discard";

const DONE: Record<Decision, string> = { replay: "Replayed", discard: "Discarded" };

function ids(list: number[]): string {
  const shown = list.slice(0, 20).map((id) => `#${id}`);
  return list.length > shown.length ? `${shown.join(", ")} and ${list.length - shown.length} more` : shown.join(", ");
}

function letters(n: number): string {
  return `${n} dead ${n === 1 ? "letter" : "letters"}`;
}

/** "Replayed 2 dead letters (#3, #4). Skipped 1 (#5): no longer pending, or not found." */
export function describeDecision(decision: Decision, result: DeadLettersChanged): string {
  const parts: string[] = [];
  if (result.changed.length > 0) parts.push(`${DONE[decision]} ${letters(result.changed.length)} (${ids(result.changed)}).`);
  else parts.push(`${DONE[decision]} none.`);
  if (result.skipped.length > 0) {
    parts.push(`Skipped ${result.skipped.length} (${ids(result.skipped)}): no longer pending, or not found.`);
  }
  return parts.join(" ");
}

/** The question before a decision. */
export function confirmText(decision: Decision, count: number): string {
  return decision === "replay"
    ? `Publish the original bytes of ${letters(count)} to their subjects again? Do this after the cause is fixed: a message refused again comes back as a new dead letter.`
    : `Discard ${letters(count)}? They stay listed as discarded, but can no longer be replayed.`;
}

/** The selection after toggling one id (or every id of a page). */
export function toggleSelection(selected: ReadonlySet<number>, toggled: number[], on: boolean): Set<number> {
  const next = new Set(selected);
  for (const id of toggled) {
    if (on) {
      if (next.size >= MAX_IDS) break;
      next.add(id);
    } else {
      next.delete(id);
    }
  }
  return next;
}
