import { describe, expect, it } from "vitest";
import { SeriesBuffer } from "./buffer";

const S = 1000;

function raw(times: number[], value = (t: number) => t / S): { t: number[]; avg: number[] } {
  return { t: times.map((t) => t * S), avg: times.map((t) => value(t * S)) };
}

function seconds(buffer: SeriesBuffer): number[] {
  return buffer.t.map((t) => t / S);
}

describe("SeriesBuffer.merge", () => {
  it("appends live points after history and ignores the same points again", () => {
    const buffer = new SeriesBuffer();
    buffer.merge(raw([1, 2, 3, 4, 5]), 0);
    buffer.merge(raw([6]), 0);
    buffer.merge(raw([7]), 0);
    expect(seconds(buffer)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    const version = buffer.version;
    expect(buffer.merge(raw([5, 6, 7]), 0)).toBe(false); // duplicates: no change at all
    expect(buffer.version).toBe(version);
    expect(seconds(buffer)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("merges history that overlaps live points into one sorted series without duplicates", () => {
    const buffer = new SeriesBuffer();
    buffer.merge(raw([10, 11, 12]), 0); // live first
    buffer.merge(raw([6, 7, 8, 9, 10, 11]), 0); // then history reaching into it
    expect(seconds(buffer)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    expect(buffer.avg).toEqual([6, 7, 8, 9, 10, 11, 12]);
    expect(buffer.w).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it("sorts out-of-order arrivals, inside a batch and across batches", () => {
    const buffer = new SeriesBuffer();
    buffer.merge(raw([3, 1, 2]), 0);
    buffer.merge(raw([7]), 0);
    buffer.merge(raw([5]), 0); // late
    buffer.merge(raw([4, 6, 4]), 0); // late, with a duplicate inside the batch
    expect(seconds(buffer)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(buffer.min).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(buffer.max).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("lets a later value for the same time replace the earlier one", () => {
    const buffer = new SeriesBuffer();
    buffer.merge({ t: [1000, 2000], avg: [1, 2] }, 0);
    buffer.merge({ t: [2000], avg: [20] }, 0);
    expect(buffer.avg).toEqual([1, 20]);
  });

  it("never erases raw points with coarser buckets for the same span", () => {
    const buffer = new SeriesBuffer();
    // Raw points 300..400 s.
    const rawTimes = Array.from({ length: 101 }, (_, k) => 300 + k);
    buffer.merge(raw(rawTimes), 0);
    // One-minute buckets 0..540 s (covering the raw span and beyond).
    const starts = [0, 60, 120, 180, 240, 300, 360, 420, 480, 540];
    buffer.merge(
      {
        t: starts.map((s) => s * S),
        avg: starts.map(() => -1),
        min: starts.map(() => -2),
        max: starts.map(() => -0.5),
      },
      60 * S,
    );
    const t = seconds(buffer);
    // Raw 300..400 kept, buckets 300 and 360 (covered by raw from their start) dropped,
    // 0..240 and 420..540 added.
    expect(t).toEqual([0, 60, 120, 180, 240, ...rawTimes, 420, 480, 540]);
    expect(buffer.avg.slice(5, 5 + rawTimes.length)).toEqual(rawTimes);
    expect(buffer.w.filter((w) => w === 0)).toHaveLength(101);
    expect(buffer.min[0]).toBe(-2);
    expect(buffer.max[0]).toBe(-0.5);

    // The same buckets again change nothing (idempotent).
    const version = buffer.version;
    buffer.merge({ t: starts.map((s) => s * S), avg: starts.map(() => -1), min: starts.map(() => -2), max: starts.map(() => -0.5) }, 60 * S);
    expect(seconds(buffer)).toEqual(t);
    expect(buffer.version).toBe(version);
  });

  it("replaces coarser buckets with finer data for the span the finer data covers", () => {
    const buffer = new SeriesBuffer();
    buffer.merge({ t: [0, 60 * S, 120 * S, 180 * S], avg: [1, 2, 3, 4] }, 60 * S);
    // 10-second buckets for 60..120 s.
    buffer.merge({ t: [60, 70, 80, 90, 100, 110].map((s) => s * S), avg: [5, 6, 7, 8, 9, 10] }, 10 * S);
    expect(seconds(buffer)).toEqual([0, 60, 70, 80, 90, 100, 110, 120, 180]);
    expect(buffer.avg).toEqual([1, 5, 6, 7, 8, 9, 10, 3, 4]);
    expect(buffer.w).toEqual([60, 10, 10, 10, 10, 10, 10, 60, 60].map((w) => w * S));
  });

  it("keeps a bucket whose start finer data does not cover (live edge after bucketed history)", () => {
    const buffer = new SeriesBuffer();
    buffer.merge({ t: [0, 4 * S, 8 * S], avg: [1, 2, 3] }, 4 * S);
    buffer.merge(raw([12, 13]), 0);
    // An overlapping bucket answer arrives later: the 12 s bucket is covered by raw.
    buffer.merge({ t: [8 * S, 12 * S], avg: [30, 40] }, 4 * S);
    expect(seconds(buffer)).toEqual([0, 4, 8, 12, 13]);
    expect(buffer.avg).toEqual([1, 2, 30, 12, 13]);
    expect(buffer.w).toEqual([4 * S, 4 * S, 4 * S, 0, 0]);
  });

  it("replaces buckets with raw points that start inside them", () => {
    const buffer = new SeriesBuffer();
    buffer.merge({ t: [0, 10 * S, 20 * S], avg: [1, 2, 3] }, 10 * S);
    buffer.merge(raw([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]), 0);
    expect(seconds(buffer)).toEqual([0, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(buffer.w[0]).toBe(10 * S);
    expect(buffer.w[1]).toBe(0);
    expect(buffer.w[11]).toBe(10 * S);
  });

  it("drops non-finite values", () => {
    const buffer = new SeriesBuffer();
    buffer.merge({ t: [1, 2, Number.NaN, 4], avg: [1, Number.NaN, 3, 4] }, 0);
    expect(buffer.t).toEqual([1, 4]);
  });
});

describe("SeriesBuffer trimming and slicing", () => {
  it("trims everything before the window and keeps the rest intact", () => {
    const buffer = new SeriesBuffer();
    buffer.merge(raw([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 0);
    expect(buffer.trimBefore(4 * S)).toBe(3);
    expect(seconds(buffer)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(buffer.avg).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(buffer.trimBefore(0)).toBe(0);
    // A late point before the window may arrive again and is merged in order.
    buffer.merge(raw([3]), 0);
    expect(seconds(buffer)[0]).toBe(3);
  });

  it("copies spans between buffers with their resolutions", () => {
    const a = new SeriesBuffer();
    a.merge({ t: [0, 60 * S], avg: [1, 2] }, 60 * S);
    a.merge(raw([120, 121, 122]), 0);
    expect(a.runs(0, Infinity).map((r) => [r.widthMs, r.batch.t.length])).toEqual([
      [60 * S, 2],
      [0, 3],
    ]);
    const b = new SeriesBuffer();
    b.mergeFrom(a, 60 * S, 121 * S);
    expect(seconds(b)).toEqual([60, 120, 121]);
    expect(b.w).toEqual([60 * S, 0, 0]);
    expect(a.coarsestWidth(120 * S, 200 * S)).toBe(0);
    expect(a.coarsestWidth(0, 200 * S)).toBe(60 * S);
  });
});
