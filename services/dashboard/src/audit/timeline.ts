/**
 * A trace's story as a timeline: its records (requests, task steps, dead letters) in time
 * order, each with its offset from the first, and the failed steps picked out.
 *
 * Records of one request are often within the same millisecond, so instants are compared in
 * microseconds (msgspec writes them when a datetime has them), and two steps of one task run
 * at the same instant keep their `execution_order`.
 */
import type { TraceItem, TraceItemKind, TraceStory } from "./types";

export interface TimelineEntry {
  /** Unique in the story: the kind and the record's id. */
  key: string;
  kind: TraceItemKind;
  item: TraceItem;
  /** Microseconds since the epoch (NaN when `at` is not a date). */
  atUs: number;
  /** Milliseconds after the first record. */
  offsetMs: number;
  /** A task step that FAILED. */
  failed: boolean;
}

export interface Timeline {
  entries: TimelineEntry[];
  /** Milliseconds from the first record to the last. */
  spanMs: number;
  /** The first failed step, if any. */
  firstFailure: TimelineEntry | null;
  truncated: boolean;
}

/** Microseconds since the epoch of an ISO 8601 instant; NaN when it is not one. */
export function instantUs(iso: string): number {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return Number.NaN;
  const fraction = /T[\d:]+\.(\d+)/.exec(iso)?.[1] ?? "";
  const extra = Number(fraction.padEnd(6, "0").slice(3, 6));
  return ms * 1000 + extra;
}

function recordId(item: TraceItem): number | string {
  return item.access?.id ?? item.step?.id ?? item.dead_letter?.id ?? item.at;
}

export function buildTimeline(story: TraceStory): Timeline {
  const placed = story.items.map((item, index) => ({ item, index, atUs: instantUs(item.at) }));
  const time = (p: { atUs: number }) => (Number.isNaN(p.atUs) ? Number.POSITIVE_INFINITY : p.atUs);
  placed.sort((a, b) => time(a) - time(b) || a.index - b.index);
  keepStepOrder(placed);
  const first = placed.find((p) => !Number.isNaN(p.atUs))?.atUs ?? 0;
  let last = first;
  const entries = placed.map(({ item, atUs }): TimelineEntry => {
    if (!Number.isNaN(atUs)) last = Math.max(last, atUs);
    return {
      key: `${item.kind}-${recordId(item)}`,
      kind: item.kind,
      item,
      atUs,
      offsetMs: Number.isNaN(atUs) ? 0 : (atUs - first) / 1000,
      failed: item.kind === "step" && item.step?.status === "FAILED",
    };
  });
  return {
    entries,
    spanMs: (last - first) / 1000,
    firstFailure: entries.find((e) => e.failed) ?? null,
    truncated: story.truncated === true,
  };
}

/** Within each run of records at the same instant, the steps of one task run take the places
 * those steps hold, in their execution order (other records stay where they are). */
function keepStepOrder(placed: Array<{ item: TraceItem; atUs: number }>): void {
  let start = 0;
  while (start < placed.length) {
    let end = start + 1;
    while (end < placed.length && Object.is(placed[end]!.atUs, placed[start]!.atUs)) end++;
    const slots = new Map<string, number[]>();
    for (let i = start; i < end; i++) {
      const step = placed[i]!.item.step;
      if (step) slots.set(step.task_id, [...(slots.get(step.task_id) ?? []), i]);
    }
    for (const positions of slots.values()) {
      if (positions.length < 2) continue;
      const steps = positions.map((i) => placed[i]!).sort((a, b) => a.item.step!.execution_order - b.item.step!.execution_order);
      positions.forEach((position, n) => (placed[position] = steps[n]!));
    }
    start = end;
  }
}

/** "+0 ms", "+12 ms", "+1.25 s", "+2 min 3 s". */
export function formatOffset(ms: number): string {
  if (ms < 1) return ms <= 0 ? "+0 ms" : `+${ms.toFixed(2)} ms`;
  if (ms < 10) return `+${ms.toFixed(1)} ms`;
  if (ms < 1000) return `+${Math.round(ms)} ms`;
  if (ms < 60_000) return `+${(ms / 1000).toFixed(2)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `+${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}
