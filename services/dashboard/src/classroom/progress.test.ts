import { describe, expect, it } from "vitest";
import { alignedProgress, describeProgress, progressSeries } from "./progress";
import { at } from "../test/classroomData";
import type { ClassProgress } from "./types";

const progress = (steps: ClassProgress["steps"]): ClassProgress => ({ class_id: "py101", notebook_path: "n", step_s: 60, steps });

describe("the progress band", () => {
  it("gives the median line and the interquartile band as cell numbers, by time", () => {
    const series = progressSeries(
      progress([
        { time: at(120), median: 4, p25: 2, p75: 5, students: 20 },
        { time: at(0), median: 0, p25: 0, p75: 1, students: 3 },
        { time: at(60), median: 2, p25: 1, p75: 3, students: 12 },
      ]),
    );
    expect(series.t).toEqual([0, 60, 120].map((s) => Date.parse(at(s))));
    expect(series.median).toEqual([1, 3, 5]);
    expect(series.p25).toEqual([1, 2, 3]);
    expect(series.p75).toEqual([2, 4, 6]);
    expect(series.students).toEqual([3, 12, 20]);
    expect(alignedProgress(series)).toEqual([series.t, series.p25, series.median, series.p75]);
  });

  it("drops unreadable and repeated steps and keeps the band's edges in order", () => {
    const series = progressSeries(
      progress([
        { time: at(0), median: 2, p25: 3, p75: 1, students: 4 }, // edges swapped
        { time: at(0), median: 9, p25: 9, p75: 9, students: 9 }, // the same step again
        { time: "not a time", median: 1, p25: 1, p75: 1, students: 1 },
      ]),
    );
    expect(series.t).toHaveLength(1);
    expect([series.p25[0], series.median[0], series.p75[0]]).toEqual([2, 3, 4]);
  });

  it("describes the latest step in words", () => {
    expect(describeProgress(progressSeries(progress([])))).toMatch(/^No progress yet/);
    expect(describeProgress(progressSeries(progress([{ time: at(0), median: 3.5, p25: 2, p75: 6, students: 25 }])))).toBe(
      "Progress over 1 step: the median student is at cell 4.5, half the class between cells 3 and 7 (25 students). The table below lists every step.",
    );
  });
});
