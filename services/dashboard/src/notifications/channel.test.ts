import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ClientFrame } from "../api/gateway.gen";
import type { SocketPort } from "../live/hub";
import { NotificationsChannel } from "./channel";
import type { InboxCount, NotificationFrame } from "./types";

class FakePort implements SocketPort {
  ready = true;
  sent: ClientFrame[] = [];
  send(frame: ClientFrame): boolean {
    if (!this.ready) return false;
    this.sent.push(frame);
    return true;
  }
  isReady(): boolean {
    return this.ready;
  }
}

function frame(seq: number, unread: number, version: number, fields: Partial<NotificationFrame> = {}): NotificationFrame {
  return { type: "notification", channel: "notifications", seq, change: "read", unread, version, ids: [1], ...fields };
}

function setup(answers: InboxCount[]) {
  const port = new FakePort();
  const pending: Array<(count: InboxCount) => void> = [];
  const fetchUnread = vi.fn(
    () =>
      new Promise<InboxCount>((resolve) => {
        pending.push(resolve);
      }),
  );
  const channel = new NotificationsChannel(port, fetchUnread, { onError: vi.fn(), retryMs: 100 });
  const answer = async () => {
    pending.shift()?.(answers.shift()!);
    await Promise.resolve();
    await Promise.resolve();
  };
  return { port, channel, fetchUnread, answer };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("the notifications channel", () => {
  it("subscribes when the socket is ready, then reads the count; the highest version wins", async () => {
    const { port, channel, fetchUnread, answer } = setup([{ unread: 2, version: 4 }]);
    channel.onReady();
    expect(port.sent).toEqual([{ type: "subscribe", channel: "notifications" }]);
    channel.onFrame({ type: "subscribed", channel: "notifications", seq: 100 });
    expect(fetchUnread).toHaveBeenCalledTimes(1);
    // A change arrives before the REST answer, which was read before it.
    channel.onFrame(frame(101, 3, 5, { change: "created" }));
    await answer();
    expect(channel.count.state.get()).toEqual({ unread: 3, version: 5 });
  });

  it("hands every change to the watchers, and stops when asked", () => {
    const { channel } = setup([]);
    const seen: number[] = [];
    const stop = channel.watch({ onChange: (f) => seen.push(f.seq) });
    channel.onFrame(frame(1, 1, 1));
    stop();
    stop();
    channel.onFrame(frame(2, 0, 2));
    expect(seen).toEqual([1]);
    expect(channel.count.state.get()).toEqual({ unread: 0, version: 2 });
  });

  it("resumes from the last sequence after a reconnect", () => {
    const { port, channel } = setup([]);
    channel.onReady();
    channel.onFrame({ type: "subscribed", channel: "notifications", seq: 10 });
    channel.onFrame(frame(12, 1, 3));
    channel.onClose();
    port.sent = [];
    channel.onReady();
    expect(port.sent).toEqual([{ type: "subscribe", channel: "notifications", resume_from: 12 }]);
  });

  it("waits for the socket, and subscribes once per connection", () => {
    const { port, channel } = setup([]);
    port.ready = false;
    channel.onReady();
    expect(port.sent).toEqual([]);
    port.ready = true;
    channel.onReady();
    channel.onFrame({ type: "error", channel: "notifications", code: "already_subscribed", message: "" });
    expect(channel.state()).toBe("live");
    expect(port.sent).toHaveLength(1);
  });

  it("on a gap reads the count again and tells the watchers", () => {
    const { channel, fetchUnread } = setup([]);
    const onGap = vi.fn();
    channel.watch({ onChange: vi.fn(), onGap });
    channel.onFrame({ type: "gap", channel: "notifications", after_seq: 3, before_seq: 9 } as never);
    expect(onGap).toHaveBeenCalledTimes(1);
    expect(fetchUnread).toHaveBeenCalledTimes(1);
  });

  it("starts afresh after replay_too_large, retries after unavailable", () => {
    const { port, channel } = setup([]);
    const onGap = vi.fn();
    channel.watch({ onChange: vi.fn(), onGap });
    channel.onReady();
    channel.onFrame({ type: "subscribed", channel: "notifications", seq: 5 });
    channel.onClose();
    channel.onReady();
    port.sent = [];
    channel.onFrame({ type: "error", channel: "notifications", code: "replay_too_large", message: "too many" });
    expect(port.sent).toEqual([{ type: "subscribe", channel: "notifications" }]);
    expect(onGap).toHaveBeenCalled();
    port.sent = [];
    channel.onFrame({ type: "error", channel: "notifications", code: "unavailable", message: "later" });
    expect(port.sent).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(port.sent).toEqual([{ type: "subscribe", channel: "notifications" }]);
  });

  it("owns its frames only", () => {
    const { channel } = setup([]);
    expect(channel.owns(frame(1, 0, 1))).toBe(true);
    expect(channel.owns({ type: "subscribed", channel: "notifications", seq: 1 })).toBe(true);
    expect(channel.owns({ type: "subscribed", channel: "series:a:cpu", seq: 1 })).toBe(false);
  });

  it("forgets the count and the sequence when signed out; a late answer is ignored", async () => {
    const { port, channel, answer } = setup([{ unread: 9, version: 9 }]);
    channel.onReady();
    channel.onFrame({ type: "subscribed", channel: "notifications", seq: 7 });
    channel.reset();
    await answer();
    expect(channel.count.state.get()).toBeNull();
    expect(channel.lastSequence()).toBeNull();
    port.sent = [];
    channel.onReady();
    expect(port.sent).toEqual([{ type: "subscribe", channel: "notifications" }]);
  });
});
