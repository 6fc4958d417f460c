/**
 * The students × cells heatmap: an ARIA grid on a real table. Each cell says its state three
 * ways — a symbol (✓ ran, ✗ errored, · not reached), a fill pattern (solid, striped, blank) and
 * its accessible name ("ada, cell 3: errored (NameError)") — never by colour alone. One cell
 * is in the tab order (roving tabindex); arrow keys, Home/End and Ctrl+Home/End move between
 * cells, Enter or Space on a cell (or a click on a student) opens that student's timeline.
 * Hovering or focusing a cell shows its tooltip. The student column stays put while the grid
 * scrolls sideways on a narrow screen.
 */
import { memo, useCallback, useMemo, useRef, useState, type FocusEvent, type KeyboardEvent, type MouseEvent } from "react";
import { formatDateTime } from "../format";
import { cellNumber, columnSummaries, describeCell, type CellEntry, type HeatmapState, type StudentRow } from "./heatmap";

const SYMBOL = { ran: "✓", errored: "✗", none: "·" } as const;

interface Props {
  state: HeatmapState;
  selected: string | null;
  onSelect: (student: string) => void;
  labelledBy: string;
}

interface Position {
  row: number;
  col: number;
}

export function Heatmap({ state, selected, onSelect, labelledBy }: Props) {
  const frameRef = useRef<HTMLDivElement>(null);
  const tipRef = useRef<HTMLDivElement>(null);
  const [active, setActive] = useState<Position>({ row: 0, col: -1 });
  const summaries = useMemo(() => columnSummaries(state), [state]);
  const rows = state.students.length;
  const cols = state.columns.length;
  // Keep the tab stop on the grid when rows or columns go away.
  const current: Position = {
    row: Math.min(active.row, Math.max(0, rows - 1)),
    col: Math.min(active.col, cols - 1),
  };

  const showTip = useCallback((target: HTMLElement | null) => {
    const tip = tipRef.current;
    const frame = frameRef.current;
    if (!tip || !frame) return;
    const text = target?.dataset.tip;
    if (!target || !text) {
      tip.hidden = true;
      return;
    }
    tip.textContent = text;
    tip.hidden = false;
    const box = frame.getBoundingClientRect();
    const cell = target.getBoundingClientRect();
    const left = Math.max(0, Math.min(cell.left - box.left, box.width - tip.offsetWidth));
    tip.style.left = `${left}px`;
    tip.style.top = `${cell.bottom - box.top + 4}px`;
  }, []);

  function cellAt(position: Position): HTMLElement | null {
    return (
      frameRef.current?.querySelector<HTMLElement>(`[data-r="${position.row}"][data-c="${position.col}"]`) ?? null
    );
  }

  function move(next: Position): void {
    const clamped = { row: Math.max(0, Math.min(rows - 1, next.row)), col: Math.max(-1, Math.min(cols - 1, next.col)) };
    setActive(clamped);
    const target = cellAt(clamped);
    target?.focus();
    target?.scrollIntoView?.({ block: "nearest", inline: "nearest" });
  }

  function onKeyDown(event: KeyboardEvent<HTMLTableElement>): void {
    const target = event.target as HTMLElement;
    if (target.dataset.r === undefined) return;
    const here: Position = { row: Number(target.dataset.r), col: Number(target.dataset.c) };
    const moves: Record<string, Position> = {
      ArrowRight: { row: here.row, col: here.col + 1 },
      ArrowLeft: { row: here.row, col: here.col - 1 },
      ArrowDown: { row: here.row + 1, col: here.col },
      ArrowUp: { row: here.row - 1, col: here.col },
      Home: event.ctrlKey ? { row: 0, col: -1 } : { row: here.row, col: -1 },
      End: event.ctrlKey ? { row: rows - 1, col: cols - 1 } : { row: here.row, col: cols - 1 },
      PageDown: { row: here.row + 10, col: here.col },
      PageUp: { row: here.row - 10, col: here.col },
    };
    const next = moves[event.key];
    if (next) {
      event.preventDefault();
      move(next);
      return;
    }
    if ((event.key === "Enter" || event.key === " ") && here.col >= 0) {
      event.preventDefault();
      const student = state.students[here.row];
      if (student) onSelect(student.id);
    }
  }

  function onFocus(event: FocusEvent<HTMLTableElement>): void {
    const target = event.target as HTMLElement;
    if (target.dataset.r !== undefined) {
      const position = { row: Number(target.dataset.r), col: Number(target.dataset.c) };
      if (position.row !== active.row || position.col !== active.col) setActive(position);
    }
    showTip(target.dataset.tip ? target : null);
  }

  function onPointer(event: MouseEvent<HTMLTableElement>): void {
    const target = (event.target as HTMLElement).closest<HTMLElement>("[data-tip]");
    showTip(target);
  }

  if (rows === 0) {
    return (
      <p className="notice" role="note" data-testid="heatmap-empty">
        No student has run a cell of this notebook yet. Students appear here as soon as their notebook reports.
      </p>
    );
  }

  return (
    <div className="heatmap-frame" ref={frameRef} data-testid="heatmap" data-students={rows} data-cells={cols}>
      <div className="heatmap-scroll">
        <table
          role="grid"
          className="heatmap"
          aria-labelledby={labelledBy}
          aria-describedby="heatmap-legend"
          aria-rowcount={rows + 1}
          aria-colcount={cols + 1}
          onKeyDown={onKeyDown}
          onFocus={onFocus}
          onBlur={() => showTip(null)}
          onMouseOver={onPointer}
          onMouseLeave={() => showTip(null)}
        >
          <thead>
            <tr aria-rowindex={1}>
              <th scope="col" className="heatmap-student" aria-colindex={1}>
                Student
              </th>
              {state.columns.map((index, c) => {
                const summary = summaries.get(index) ?? { reached: 0, errored: 0 };
                const tip = `Cell ${cellNumber(index)}: ${summary.reached} of ${rows} reached, ${summary.errored} errored`;
                return (
                  <th key={index} scope="col" aria-colindex={c + 2} data-tip={tip} title={tip}>
                    <span className="visually-hidden">Cell </span>
                    {cellNumber(index)}
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {state.students.map((student, r) => (
              <HeatmapRow
                key={student.id}
                student={student}
                row={r}
                columns={state.columns}
                activeCol={current.row === r ? current.col : null}
                selected={selected === student.id}
                onSelect={onSelect}
              />
            ))}
          </tbody>
        </table>
      </div>
      <div className="heatmap-tip" ref={tipRef} aria-hidden="true" hidden />
    </div>
  );
}

interface RowProps {
  student: StudentRow;
  row: number;
  columns: readonly number[];
  /** The column holding the tab stop when it is in this row; null otherwise. */
  activeCol: number | null;
  selected: boolean;
  onSelect: (student: string) => void;
}

/** One student's row; memoised, so a live event renders only the row of its student. */
const HeatmapRow = memo(function HeatmapRow({ student, row, columns, activeCol, selected, onSelect }: RowProps) {
  const done = student.cells.size;
  const summary =
    `${student.id}: ${done} of ${columns.length} cells reached, ${student.errorCount} error${student.errorCount === 1 ? "" : "s"}` +
    (student.lastActivity !== null ? `, last active ${formatDateTime(student.lastActivity)}` : "");
  return (
    <tr aria-rowindex={row + 2} data-student={student.id} aria-selected={selected}>
      <th scope="row" className="heatmap-student" aria-colindex={1}>
        <button
          type="button"
          className="heatmap-name"
          tabIndex={activeCol === -1 ? 0 : -1}
          data-r={row}
          data-c={-1}
          data-tip={summary}
          aria-label={`${summary}. Show the timeline`}
          aria-pressed={selected}
          onClick={() => onSelect(student.id)}
        >
          {student.id}
        </button>
      </th>
      {columns.map((index, c) => (
        <HeatmapCell
          key={index}
          student={student.id}
          index={index}
          entry={student.cells.get(index)}
          row={row}
          col={c}
          focusable={activeCol === c}
        />
      ))}
    </tr>
  );
});

function HeatmapCell({
  student,
  index,
  entry,
  row,
  col,
  focusable,
}: {
  student: string;
  index: number;
  entry: CellEntry | undefined;
  row: number;
  col: number;
  focusable: boolean;
}) {
  const state = entry?.mark ?? "none";
  const label = describeCell(student, index, entry);
  const tip = entry?.at != null ? `${label}, ${formatDateTime(entry.at)}` : label;
  return (
    <td
      role="gridcell"
      className={`hm hm--${state}`}
      data-state={state}
      data-r={row}
      data-c={col}
      data-tip={tip}
      aria-colindex={col + 2}
      aria-label={label}
      tabIndex={focusable ? 0 : -1}
    >
      <span aria-hidden="true">{SYMBOL[state]}</span>
    </td>
  );
}

/** The key to the symbols and patterns (the grid's description). */
export function HeatmapLegend() {
  return (
    <ul className="heatmap-legend" id="heatmap-legend" aria-label="Legend">
      <li>
        <span className="hm hm--ran hm--key" aria-hidden="true">
          {SYMBOL.ran}
        </span>{" "}
        ran (latest run succeeded)
      </li>
      <li>
        <span className="hm hm--errored hm--key" aria-hidden="true">
          {SYMBOL.errored}
        </span>{" "}
        errored (latest run failed)
      </li>
      <li>
        <span className="hm hm--none hm--key" aria-hidden="true">
          {SYMBOL.none}
        </span>{" "}
        not reached
      </li>
    </ul>
  );
}
