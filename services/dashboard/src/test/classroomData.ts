/** Fixed class data for the classroom tests (not part of the bundle). */
import type { ClassOverview, NotebookEvent } from "../classroom/types";

export const T0 = Date.UTC(2026, 11, 5, 9, 0, 0);
export const at = (second: number): string => new Date(T0 + second * 1000).toISOString();

let counter = 0;

export function executed(
  student: string,
  cell: number,
  second: number,
  error: string | null = null,
  notebook = "lesson1.ipynb",
): NotebookEvent {
  counter++;
  const event: NotebookEvent = {
    eventId: `00000000-0000-4000-8000-${String(counter).padStart(12, "0")}`,
    eventType: "cell_executed",
    eventTime: at(second),
    userId: student,
    classId: "py101",
    notebookPath: notebook,
    cellId: `c${cell}`,
    cellIndex: cell,
    cellType: "code",
  };
  if (error) {
    event.hasError = true;
    event.errorName = error;
  }
  return event;
}

/** ada ran cells 0-2 (2 errored), bob ran cell 0; last activity at 100 s and 50 s. */
export function overview(): ClassOverview {
  return {
    class_id: "py101",
    notebook_path: "lesson1.ipynb",
    notebooks: ["lesson1.ipynb", "lesson2.ipynb"],
    cells: [
      { cell_index: 0, cell_id: "c0", reached: 2, succeeded: 2, errored: 0 },
      { cell_index: 1, cell_id: "c1", reached: 1, succeeded: 1, errored: 0 },
      { cell_index: 2, cell_id: "c2", reached: 1, succeeded: 0, errored: 1 },
    ],
    students: [
      { student_id: "bob", furthest_cell: 0, last_activity: at(50), error_count: 0, cells: [[0, "ran"]] },
      {
        student_id: "ada",
        furthest_cell: 2,
        last_activity: at(100),
        error_count: 1,
        cells: [
          [0, "ran"],
          [1, "ran"],
          [2, "errored"],
        ],
      },
    ],
  };
}
