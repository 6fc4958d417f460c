import { describe, expect, it } from "vitest";
import { SeriesStore } from "./store";

describe("SeriesStore", () => {
  it("coalesces updates into one notification per frame, with the earliest changed time", () => {
    const frames: Array<() => void> = [];
    const store = new SeriesStore({ schedule: (flush) => frames.push(flush), isHidden: () => false, now: () => 200_000 });
    const calls: Array<[string, number]> = [];
    store.listen("a:x", (key, from) => calls.push([key, from]));
    store.merge("a:x", { t: [3000], avg: [1] }, 0);
    store.merge("a:x", { t: [1000], avg: [1] }, 0);
    store.merge("a:x", { t: [4000], avg: [1] }, 0);
    store.merge("b:y", { t: [4000], avg: [1] }, 0);
    expect(frames).toHaveLength(1);
    expect(calls).toEqual([]);
    frames[0]!();
    expect(calls).toEqual([["a:x", 1000]]);
    expect(store.get("a:x")!.t).toEqual([1000, 3000, 4000]);
  });

  it("does not flush while the page is hidden and catches up when visible", () => {
    let hidden = true;
    const frames: Array<() => void> = [];
    const store = new SeriesStore({ schedule: (flush) => frames.push(flush), isHidden: () => hidden, now: () => 200_000 });
    let calls = 0;
    store.listen("a:x", () => calls++);
    for (let k = 0; k < 100; k++) store.merge("a:x", { t: [k * 1000], avg: [k] }, 0);
    expect(frames).toHaveLength(0);
    expect(calls).toBe(0);
    hidden = false;
    store.resume();
    expect(calls).toBe(1);
    expect(store.get("a:x")!.length).toBe(100);
  });

  it("trims points older than the retention", () => {
    const now = 10 * 3600_000;
    const store = new SeriesStore({ schedule: (flush) => flush(), isHidden: () => false, now: () => now, retentionMs: 3600_000 });
    const times = Array.from({ length: 150 }, (_, k) => now - 150 * 60_000 + k * 60_000);
    store.merge("a:x", { t: times, avg: times.map(() => 1) }, 0);
    const buffer = store.get("a:x")!;
    expect(buffer.firstTime()).toBe(now - 3600_000);
    expect(buffer.length).toBe(60);
  });
});
