import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ClientFrame } from "../api/gateway.gen";
import type { EventsFrame, EventsWatcher } from "./eventChannels";
import { LiveHub, type ChannelStatus, type SocketPort } from "./hub";
import { SeriesStore } from "./store";

const CHANNEL = "class:py101";

interface Ev {
  eventId: string;
  cell: number;
}

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

function events(seq: number, ...ids: number[]): EventsFrame<Ev> {
  return { type: "events", channel: CHANNEL, seq, events: ids.map((i) => ({ eventId: `e${i}`, cell: i })) };
}

function watcher() {
  const seen: string[] = [];
  const statuses: ChannelStatus[] = [];
  const onGap = vi.fn();
  const w: EventsWatcher<Ev> = {
    onEvents: (batch) => seen.push(...batch.map((e) => e.eventId)),
    onGap,
    onStatus: (status) => statuses.push(status),
  };
  return { w, seen, statuses, onGap };
}

function setup() {
  const port = new FakePort();
  const store = new SeriesStore({ schedule: (flush) => flush(), isHidden: () => false });
  const onError = vi.fn();
  const hub = new LiveHub(port, store, vi.fn(), { onError });
  return { port, store, hub, onError };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("event channels on the live hub", () => {
  it("subscribes with history, then delivers history and live events once each, in order", () => {
    const { hub, port } = setup();
    const { w, seen, statuses } = watcher();
    hub.events.acquire(CHANNEL, w);
    expect(port.sent).toEqual([{ type: "subscribe", channel: CHANNEL, history: { minutes: 60, max_points: 200 } }]);
    hub.onFrame({ type: "subscribed", channel: CHANNEL, seq: 40 });
    hub.onFrame(events(40, 1, 2, 3)); // the history: sequence of the last stored event
    hub.onFrame(events(41, 4));
    hub.onFrame(events(42, 4, 5)); // a repeat of e4 inside a new frame
    hub.onFrame(events(41, 4)); // a repeated frame
    expect(seen).toEqual(["e1", "e2", "e3", "e4", "e5"]);
    expect(hub.events.lastSeq(CHANNEL)).toBe(42);
    expect(statuses.at(-1)).toEqual({ state: "live" });
    expect(hub.events.recent<Ev>(CHANNEL).map((e) => e.cell)).toEqual([1, 2, 3, 4, 5]);
  });

  it("resumes from the last sequence after a reconnect, without repeating what was seen", () => {
    const { hub, port } = setup();
    const { w, seen, statuses } = watcher();
    hub.events.acquire(CHANNEL, w);
    hub.onFrame({ type: "subscribed", channel: CHANNEL, seq: 10 });
    hub.onFrame(events(11, 1));
    hub.onClose();
    expect(statuses.at(-1)).toEqual({ state: "pending" });
    port.sent = [];
    hub.onReady();
    expect(port.sent).toEqual([{ type: "subscribe", channel: CHANNEL, resume_from: 11 }]);
    hub.onFrame({ type: "subscribed", channel: CHANNEL, seq: 11 });
    hub.onFrame(events(12, 1, 2)); // the replay overlaps what arrived before the close
    expect(seen).toEqual(["e1", "e2"]);
  });

  it("subscribes once the socket is ready when it was not", () => {
    const { hub, port } = setup();
    port.ready = false;
    hub.events.acquire(CHANNEL, watcher().w);
    expect(port.sent).toEqual([]);
    port.ready = true;
    hub.onReady();
    expect(port.sent).toEqual([{ type: "subscribe", channel: CHANNEL, history: { minutes: 60, max_points: 200 } }]);
  });

  it("hands a returning view the held events at once and unsubscribes only after 10 s unused", async () => {
    const { hub, port } = setup();
    const first = watcher();
    const release = hub.events.acquire(CHANNEL, first.w);
    hub.onFrame({ type: "subscribed", channel: CHANNEL, seq: 3 });
    hub.onFrame(events(3, 1, 2));
    release();
    release();
    await vi.advanceTimersByTimeAsync(5_000);
    const second = watcher();
    const again = hub.events.acquire(CHANNEL, second.w);
    expect(second.seen).toEqual(["e1", "e2"]); // no new subscribe needed
    expect(port.sent).toHaveLength(1);
    again();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(port.sent.at(-1)).toEqual({ type: "unsubscribe", channel: CHANNEL });
    expect(hub.events.channelNames()).toEqual([]);
  });

  it("keeps the latest events only", () => {
    const { hub } = setup();
    hub.events.acquire(CHANNEL, watcher().w);
    hub.onFrame({ type: "subscribed", channel: CHANNEL, seq: 0 });
    for (let i = 1; i <= 250; i++) hub.onFrame(events(i, i));
    const recent = hub.events.recent<Ev>(CHANNEL);
    expect(recent).toHaveLength(200);
    expect(recent[0]!.cell).toBe(51);
    expect(recent.at(-1)!.cell).toBe(250);
  });

  it("tells the watchers to re-read after a gap, and starts over from history after replay_too_large", () => {
    const { hub, port } = setup();
    const { w, onGap } = watcher();
    hub.events.acquire(CHANNEL, w);
    hub.onFrame({ type: "subscribed", channel: CHANNEL, seq: 5 });
    hub.onFrame({ type: "gap", channel: CHANNEL, after_seq: 5, before_seq: 90, reason: "slow consumer" });
    expect(onGap).toHaveBeenCalledTimes(1);
    hub.onClose();
    port.sent = [];
    hub.onReady();
    hub.onFrame({ type: "error", code: "replay_too_large", message: "too much", channel: CHANNEL });
    expect(port.sent).toEqual([
      { type: "subscribe", channel: CHANNEL, resume_from: 5 },
      { type: "subscribe", channel: CHANNEL, history: { minutes: 60, max_points: 200 } },
    ]);
    expect(onGap).toHaveBeenCalledTimes(2);
  });

  it("reports a refused channel, retries an unavailable one", async () => {
    const { hub, port, onError } = setup();
    const { w, statuses } = watcher();
    hub.events.acquire(CHANNEL, w);
    hub.onFrame({ type: "error", code: "unavailable", message: "later", channel: CHANNEL });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(port.sent.filter((f) => f.type === "subscribe")).toHaveLength(2);
    hub.onFrame({ type: "error", code: "forbidden", message: "not your class", channel: CHANNEL });
    expect(statuses.at(-1)).toEqual({ state: "error", message: "not your class" });
    expect(hub.events.status(CHANNEL)).toEqual({ state: "error", message: "not your class" });
    expect(onError).toHaveBeenCalledWith(`${CHANNEL}: not your class`);
  });

  it("leaves series frames to the series channels", () => {
    const { hub, store } = setup();
    hub.events.acquire(CHANNEL, watcher().w);
    hub.acquire("web1", "cpu", { minutes: 5, maxPoints: 100, raw: true, maxRate: null });
    hub.onFrame({ type: "subscribed", channel: "series:web1:cpu", seq: 7 });
    hub.onFrame({
      type: "data",
      channel: "series:web1:cpu",
      seq: 8,
      source: "web1",
      name: "cpu",
      points: [{ time: new Date(Date.now()).toISOString(), value: 3 }],
    });
    expect(store.get("web1:cpu")?.avg).toEqual([3]);
    expect(hub.lastSeq("series:web1:cpu")).toBe(8);
    expect(hub.events.lastSeq("series:web1:cpu")).toBeNull();
    hub.reset();
    expect(hub.events.channelNames()).toEqual([]);
  });
});
