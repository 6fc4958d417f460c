/**
 * The students × cells picture of one notebook: built from the stored overview
 * (`GET /api/v1/classes/{id}/overview`), then moved forward by the class channel's events.
 *
 * A student's cell is `ran` or `errored` by their latest execution of it (by event time, as
 * persistence decides it), or absent: not reached. The overview knows no times per cell, only
 * each student's last activity; an event at or before it is already in the overview and
 * changes nothing, so the channel's history (which overlaps the overview) may be applied
 * freely. Every update returns new objects only for the students it changed, so a row
 * component memoised on its student renders only when that student moved.
 */
import type { ClassOverview, NotebookEvent } from "./types";

export type CellMark = "ran" | "errored";

export interface CellEntry {
  mark: CellMark;
  /** Event time in epoch ms; null: from the overview (at or before the student's baseline). */
  at: number | null;
  errorName: string | null;
}

export interface StudentRow {
  id: string;
  cells: ReadonlyMap<number, CellEntry>;
  furthest: number | null;
  lastActivity: number | null;
  errorCount: number;
  /** The overview's last activity: events at or before it are counted in the overview. */
  baseline: number | null;
  /** Events applied since the baseline (so a repeat is not counted twice). */
  applied: ReadonlySet<string>;
}

export interface HeatmapState {
  /** The notebook shown; null until the class has run a cell. */
  notebook: string | null;
  /** Cell indexes shown as columns, ascending. */
  columns: readonly number[];
  /** Students by id, ascending (rows do not jump while the class works). */
  students: readonly StudentRow[];
}

export const EMPTY_HEATMAP: HeatmapState = { notebook: null, columns: [], students: [] };

function parseMs(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

function byId(a: StudentRow, b: StudentRow): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The picture the stored overview gives; `plannedCells` adds columns not reached yet. */
export function fromOverview(overview: ClassOverview, plannedCells: number | null = null): HeatmapState {
  const columns = new Set<number>();
  for (let i = 0; i < (plannedCells ?? 0); i++) columns.add(i);
  for (const cell of overview.cells) columns.add(cell.cell_index);
  const students = overview.students.map((s): StudentRow => {
    const cells = new Map<number, CellEntry>();
    for (const [index, state] of s.cells) {
      if (typeof index !== "number") continue;
      columns.add(index);
      cells.set(index, { mark: state === "errored" ? "errored" : "ran", at: null, errorName: null });
    }
    const last = parseMs(s.last_activity);
    return {
      id: s.student_id,
      cells,
      furthest: s.furthest_cell,
      lastActivity: last,
      errorCount: s.error_count,
      baseline: last,
      applied: new Set(),
    };
  });
  students.sort(byId);
  return { notebook: overview.notebook_path, columns: [...columns].sort((a, b) => a - b), students };
}

/** Moves the picture forward by a batch of events (any order, repeats harmless). */
export function applyEvents(state: HeatmapState, events: readonly NotebookEvent[]): HeatmapState {
  let notebook = state.notebook;
  let columns: number[] | null = null;
  const changed = new Map<string, StudentRow>();
  const rows = new Map(state.students.map((row) => [row.id, row]));
  for (const event of events) {
    const path = event.notebookPath ?? null;
    const executed = event.eventType === "cell_executed" && typeof event.cellIndex === "number" && path !== null;
    if (executed && notebook === null) notebook = path; // the class's first notebook
    if (path !== null && path !== notebook) continue; // another notebook
    const time = parseMs(event.eventTime);
    if (time === null) continue;
    const before = changed.get(event.userId) ?? rows.get(event.userId) ?? newStudent(event.userId);
    const after = applyOne(before, event, time, executed);
    if (after === before) continue;
    changed.set(after.id, after);
    if (executed && !(columns ?? state.columns).includes(event.cellIndex!)) {
      columns ??= [...state.columns];
      columns.push(event.cellIndex!);
    }
  }
  if (changed.size === 0 && notebook === state.notebook) return state;
  for (const [id, row] of changed) rows.set(id, row);
  const students = [...rows.values()]; // a changed student keeps its place; new ones are last
  if (students.length !== state.students.length) students.sort(byId);
  return {
    notebook,
    columns: columns ? columns.sort((a, b) => a - b) : state.columns,
    students,
  };
}

function newStudent(id: string): StudentRow {
  return { id, cells: new Map(), furthest: null, lastActivity: null, errorCount: 0, baseline: null, applied: new Set() };
}

function applyOne(row: StudentRow, event: NotebookEvent, time: number, executed: boolean): StudentRow {
  if (row.baseline !== null && time <= row.baseline) return row; // in the overview already
  if (row.applied.has(event.eventId)) return row;
  const applied = new Set(row.applied).add(event.eventId);
  const lastActivity = row.lastActivity === null ? time : Math.max(row.lastActivity, time);
  if (!executed) return { ...row, applied, lastActivity };
  const index = event.cellIndex!;
  const failed = event.hasError === true;
  let cells = row.cells;
  const known = row.cells.get(index);
  if (!known || known.at === null || known.at <= time) {
    const next = new Map(row.cells);
    next.set(index, { mark: failed ? "errored" : "ran", at: time, errorName: failed ? (event.errorName ?? null) : null });
    cells = next;
  }
  return {
    ...row,
    applied,
    cells,
    lastActivity,
    furthest: row.furthest === null ? index : Math.max(row.furthest, index),
    errorCount: row.errorCount + (failed ? 1 : 0),
  };
}

export interface ColumnSummary {
  reached: number;
  errored: number;
}

/** Per column: students who reached the cell, and whose latest run of it failed. */
export function columnSummaries(state: HeatmapState): Map<number, ColumnSummary> {
  const result = new Map<number, ColumnSummary>(state.columns.map((c) => [c, { reached: 0, errored: 0 }]));
  for (const row of state.students) {
    for (const [index, entry] of row.cells) {
      const summary = result.get(index);
      if (!summary) continue;
      summary.reached++;
      if (entry.mark === "errored") summary.errored++;
    }
  }
  return result;
}

/** Cells are numbered from 1 in notebook order (the stored cellIndex is 0-based). */
export function cellNumber(index: number): number {
  return index + 1;
}

/** The text alternative of one heatmap cell (its accessible name and tooltip). */
export function describeCell(student: string, index: number, entry: CellEntry | undefined): string {
  const where = `${student}, cell ${cellNumber(index)}`;
  if (!entry) return `${where}: not reached`;
  if (entry.mark === "ran") return `${where}: ran`;
  return `${where}: errored${entry.errorName ? ` (${entry.errorName})` : ""}`;
}
