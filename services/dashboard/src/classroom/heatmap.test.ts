import { describe, expect, it } from "vitest";
import { applyEvents, columnSummaries, describeCell, EMPTY_HEATMAP, fromOverview, type HeatmapState } from "./heatmap";
import { executed, overview } from "../test/classroomData";

const marks = (state: HeatmapState, student: string): Record<number, string> =>
  Object.fromEntries([...state.students.find((s) => s.id === student)!.cells].map(([i, e]) => [i, e.mark]));

describe("the heatmap picture", () => {
  it("starts from the stored overview: students by id, planned cells as columns", () => {
    const state = fromOverview(overview(), 5);
    expect(state.notebook).toBe("lesson1.ipynb");
    expect(state.columns).toEqual([0, 1, 2, 3, 4]);
    expect(state.students.map((s) => s.id)).toEqual(["ada", "bob"]);
    expect(marks(state, "ada")).toEqual({ 0: "ran", 1: "ran", 2: "errored" });
    expect(state.students[0]).toMatchObject({ furthest: 2, errorCount: 1 });
  });

  it("moves forward with live events and changes only the students they concern", () => {
    const start = fromOverview(overview());
    const next = applyEvents(start, [executed("ada", 2, 120), executed("ada", 3, 130, "NameError")]);
    expect(marks(next, "ada")).toEqual({ 0: "ran", 1: "ran", 2: "ran", 3: "errored" });
    const ada = next.students.find((s) => s.id === "ada")!;
    expect(ada).toMatchObject({ furthest: 3, errorCount: 2, lastActivity: Date.parse(executed("x", 0, 130).eventTime) });
    expect(ada.cells.get(3)?.errorName).toBe("NameError");
    expect(next.columns).toEqual([0, 1, 2, 3]);
    // bob's row is the same object: a memoised row does not render again.
    expect(next.students.find((s) => s.id === "bob")).toBe(start.students.find((s) => s.id === "bob"));
  });

  it("ignores history the overview already holds, repeats, and other notebooks", () => {
    const start = fromOverview(overview());
    const old = executed("ada", 2, 90); // before ada's last activity: counted in the overview
    const live = executed("bob", 1, 60, "TypeError");
    const other = executed("bob", 7, 70, null, "lesson2.ipynb");
    const once = applyEvents(start, [old, live, other]);
    const twice = applyEvents(once, [live, old]);
    expect(twice).toBe(once);
    expect(marks(once, "ada")).toEqual({ 0: "ran", 1: "ran", 2: "errored" });
    expect(marks(once, "bob")).toEqual({ 0: "ran", 1: "errored" });
    expect(once.students.find((s) => s.id === "bob")!.errorCount).toBe(1);
    expect(once.columns).toEqual([0, 1, 2]);
  });

  it("keeps the latest execution of a cell whatever the arrival order", () => {
    const start = fromOverview(overview());
    const fixed = executed("bob", 1, 80);
    const failed = executed("bob", 1, 70, "ZeroDivisionError");
    const state = applyEvents(applyEvents(start, [fixed]), [failed]);
    expect(marks(state, "bob")[1]).toBe("ran");
    expect(state.students.find((s) => s.id === "bob")!.errorCount).toBe(1); // it did fail once
  });

  it("adds a student seen for the first time, in order, and a class's first notebook", () => {
    const state = applyEvents(EMPTY_HEATMAP, [executed("zoe", 4, 10), executed("carl", 0, 11, "SyntaxError")]);
    expect(state.notebook).toBe("lesson1.ipynb");
    expect(state.students.map((s) => s.id)).toEqual(["carl", "zoe"]);
    expect(state.columns).toEqual([0, 4]);
    const opened = applyEvents(fromOverview(overview()), [
      { eventId: "e-open", eventType: "notebook_opened", eventTime: executed("x", 0, 200).eventTime, userId: "dan", notebookPath: "lesson1.ipynb" },
    ]);
    expect(opened.students.map((s) => s.id)).toEqual(["ada", "bob", "dan"]);
    expect(opened.students[2]!.cells.size).toBe(0);
  });

  it("summarises columns and words each cell for assistive technology", () => {
    const state = applyEvents(fromOverview(overview()), [executed("bob", 2, 60, "KeyError")]);
    expect(columnSummaries(state).get(2)).toEqual({ reached: 2, errored: 2 });
    expect(columnSummaries(state).get(0)).toEqual({ reached: 2, errored: 0 });
    const bob = state.students.find((s) => s.id === "bob")!;
    expect(describeCell("bob", 2, bob.cells.get(2))).toBe("bob, cell 3: errored (KeyError)");
    expect(describeCell("bob", 0, bob.cells.get(0))).toBe("bob, cell 1: ran");
    expect(describeCell("bob", 5, bob.cells.get(5))).toBe("bob, cell 6: not reached");
  });
});
