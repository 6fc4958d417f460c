import { describe, expect, it } from "vitest";
import { describeItem, feedItems } from "./feed";
import { executed } from "../test/classroomData";

describe("the activity feed", () => {
  it("lists the newest first, each event once, however they arrived", () => {
    const a = executed("ada", 0, 10);
    const b = executed("bob", 1, 30, "NameError");
    const c = executed("ada", 1, 20);
    const late = executed("cleo", 0, 5); // a producer's buffered event, arriving last
    const items = feedItems([a, b, c, b, late]);
    expect(items.map((i) => i.id)).toEqual([b.eventId, c.eventId, a.eventId, late.eventId]);
    expect(items[0]).toMatchObject({ student: "bob", cell: 2, outcome: "error", detail: "NameError" });
    expect(items[1]).toMatchObject({ student: "ada", cell: 2, outcome: "ok", detail: null });
  });

  it("puts the later arrival first for equal times, and keeps only the latest", () => {
    const first = executed("ada", 0, 10);
    const second = executed("bob", 0, 10);
    expect(feedItems([first, second]).map((i) => i.student)).toEqual(["bob", "ada"]);
    const many = Array.from({ length: 80 }, (_, i) => executed("ada", i, i));
    const items = feedItems(many, 50);
    expect(items).toHaveLength(50);
    expect(items[0]!.cell).toBe(80);
  });

  it("words executions and other events", () => {
    const [ok] = feedItems([executed("ada", 2, 1)]);
    const [bad] = feedItems([executed("bob", 0, 1, "ValueError")]);
    const [restart] = feedItems([
      { eventId: "r", eventType: "kernel_restarted", eventTime: new Date(0).toISOString(), userId: "cleo" },
    ]);
    expect(describeItem(ok!)).toBe("ada ran cell 3");
    expect(describeItem(bad!)).toBe("bob ran cell 1: ValueError");
    expect(describeItem(restart!)).toBe("cleo restarted the kernel");
  });
});
