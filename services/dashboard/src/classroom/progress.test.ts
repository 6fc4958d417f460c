import { describe, expect, it } from "vitest";
import { alignedProgress, describeProgress, progressSeries } from "./progress";
import { at } from "../test/classroomData";
import type { ClassProgress } from "./types";

const progress = (steps: ClassProgress["steps"]): ClassProgress => ({ class_id: "py101", notebook_path: "n", step_s: 60, steps });

describe("the progress band", () => {
  it("gives the median line and the interquartile band as cell numbers, by time", () => {
    const series = progressSeries(
      progress([
        [at(120), 4, 2, 5, 20],
        [at(0), 0, 0, 1, 3],
        [at(60), 2, 1, 3, 12],
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
        [at(0), 2, 3, 1, 4], // edges swapped
        [at(0), 9, 9, 9, 9], // the same step again
        ["not a time", 1, 1, 1, 1],
      ]),
    );
    expect(series.t).toHaveLength(1);
    expect([series.p25[0], series.median[0], series.p75[0]]).toEqual([2, 3, 4]);
  });

  it("describes the latest step in words", () => {
    expect(describeProgress(progressSeries(progress([])))).toMatch(/^No progress yet/);
    expect(describeProgress(progressSeries(progress([[at(0), 3.5, 2, 6, 25]])))).toBe(
      "Progress over 1 step: the median student is at cell 4.5, half the class between cells 3 and 7 (25 students). The table below lists every step.",
    );
  });
});
