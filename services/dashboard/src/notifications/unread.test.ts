import { describe, expect, it, vi } from "vitest";
import { badgeText, newerCount, UnreadCount, unreadLabel } from "./unread";

describe("the unread count: the highest version wins", () => {
  it("takes the first count, then only newer versions", () => {
    const count = new UnreadCount();
    expect(count.state.get()).toBeNull();
    expect(count.apply({ unread: 3, version: 10 })).toBe(true);
    expect(count.apply({ unread: 5, version: 9 })).toBe(false); // an older REST answer
    expect(count.apply({ unread: 5, version: 10 })).toBe(false); // the same version again
    expect(count.state.get()).toEqual({ unread: 3, version: 10 });
    expect(count.apply({ unread: 2, version: 11 })).toBe(true);
    expect(count.state.get()).toEqual({ unread: 2, version: 11 });
  });

  it("a REST answer that raced a frame cannot take the count back, in either order", () => {
    const frameFirst = new UnreadCount();
    frameFirst.apply({ unread: 4, version: 8 }); // frame: created
    frameFirst.apply({ unread: 3, version: 7 }); // GET /unread read before the change
    expect(frameFirst.state.get()?.unread).toBe(4);

    const restFirst = new UnreadCount();
    restFirst.apply({ unread: 3, version: 7 });
    restFirst.apply({ unread: 4, version: 8 });
    expect(restFirst.state.get()?.unread).toBe(4);
  });

  it("replayed frames after a resume change nothing they already changed", () => {
    const count = new UnreadCount();
    for (const [unread, version] of [[1, 1], [2, 2], [1, 3]] as const) count.apply({ unread, version });
    for (const [unread, version] of [[2, 2], [1, 3]] as const) count.apply({ unread, version });
    expect(count.state.get()).toEqual({ unread: 1, version: 3 });
  });

  it("notifies listeners only when the count changes, and forgets it on reset", () => {
    const count = new UnreadCount();
    const listener = vi.fn();
    count.state.subscribe(listener);
    count.apply({ unread: 1, version: 1 });
    count.apply({ unread: 1, version: 1 });
    expect(listener).toHaveBeenCalledTimes(1);
    count.reset();
    expect(count.state.get()).toBeNull();
    expect(count.apply({ unread: 0, version: 1 })).toBe(true);
  });

  it("ignores nonsense and never shows a negative count", () => {
    const current = { unread: 2, version: 3 };
    expect(newerCount(current, { unread: Number.NaN, version: 4 })).toBe(current);
    expect(newerCount(current, { unread: -1, version: 4 })).toEqual({ unread: 0, version: 4 });
  });

  it("words the bell", () => {
    expect(unreadLabel(null)).toBe("Notifications");
    expect(unreadLabel(0)).toBe("Notifications, none unread");
    expect(unreadLabel(3)).toBe("Notifications, 3 unread");
    expect(badgeText(7)).toBe("7");
    expect(badgeText(120)).toBe("99+");
  });
});
