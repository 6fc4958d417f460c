import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ServerFrame } from "../api/gateway.gen";
import { FakeWebSocket, fakeTokens } from "../test/fakes";
import { LiveHub, type Need } from "./hub";
import { LiveSocket } from "./socket";
import { SeriesStore } from "./store";

const CHANNEL = "series:web1:cpu";
const RAW_5M: Need = { minutes: 5, maxPoints: 10_000, raw: true, maxRate: null };

function setup(random: () => number = () => 0.5) {
  const tokens = fakeTokens("t1");
  const onUnauthorized = vi.fn();
  const refreshesAtCreation: number[] = [];
  const socket = new LiveSocket({
    url: "ws://pulse.test/ws",
    tokens,
    onUnauthorized,
    random,
    createSocket: (url) => {
      refreshesAtCreation.push(tokens.refreshCalls);
      return new FakeWebSocket(url);
    },
  });
  const store = new SeriesStore({ schedule: (flush) => flush(), isHidden: () => false });
  const fetchHistory = vi.fn();
  const hub = new LiveHub(socket, store, fetchHistory);
  socket.setListener({
    onReady: () => hub.onReady(),
    onFrame: (frame) => hub.onFrame(frame),
    onClose: () => hub.onClose(),
  });
  return { tokens, onUnauthorized, socket, store, hub, refreshesAtCreation };
}

/** Lets pending promise callbacks run (connect() awaits the token). */
async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

async function openReady(): Promise<FakeWebSocket> {
  await settle();
  const ws = FakeWebSocket.last();
  ws.open();
  ws.ready();
  return ws;
}

function data(seq: number, second: number, value: number): ServerFrame {
  return {
    type: "data",
    channel: CHANNEL,
    seq,
    source: "web1",
    name: "cpu",
    unit: "percent",
    points: [{ time: new Date(Date.UTC(2026, 0, 10, 12, 0, second)).toISOString(), value }],
  };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date("2026-01-10T12:05:00Z"));
  FakeWebSocket.reset();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("LiveSocket", () => {
  it("authenticates first, subscribes after ready, and answers pings with pongs", async () => {
    const { socket, hub } = setup();
    hub.acquire("web1", "cpu", RAW_5M); // before the socket is ready: sent on ready
    socket.start();
    expect(socket.state.get()).toEqual({ status: "connecting" });
    await settle();
    const ws = FakeWebSocket.last();
    expect(ws.url).toBe("ws://pulse.test/ws");
    ws.open();
    expect(ws.frames()).toEqual([{ type: "auth", token: "t1" }]);
    ws.ready();
    expect(socket.state.get()).toEqual({ status: "open" });
    expect(ws.frames().slice(1)).toEqual([
      { type: "subscribe", channel: CHANNEL, history: { minutes: 5, max_points: 10_000 } },
    ]);

    ws.receive({ type: "ping" });
    expect(ws.frames().at(-1)).toEqual({ type: "pong" });
    expect(ws.framesOf("pong")).toHaveLength(1);
  });

  it("reconnects after 1012 within the jittered backoff and resumes from the last seq", async () => {
    const { socket, hub, store } = setup(() => 0.5);
    hub.acquire("web1", "cpu", RAW_5M);
    socket.start();
    const first = await openReady();
    first.receive({
      type: "subscribed",
      channel: CHANNEL,
      seq: 40,
      history: {
        start: "2026-01-10T12:00:00Z",
        bucket_s: 0,
        series: [
          {
            source: "web1",
            name: "cpu",
            points: [{ time: "2026-01-10T12:00:00Z", min: 1, max: 1, avg: 1, count: 1 }],
          },
        ],
      },
    });
    first.receive(data(41, 1, 2));
    first.receive(data(42, 2, 3));
    expect(hub.lastSeq(CHANNEL)).toBe(42);

    first.serverClose(1012);
    // Full jitter: random 0.5 × min(30 s, 500 ms × 2⁰) = 250 ms.
    expect(socket.state.get()).toEqual({ status: "reconnecting", retryAt: Date.now() + 250 });
    await vi.advanceTimersByTimeAsync(249);
    expect(FakeWebSocket.created).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeWebSocket.created).toHaveLength(2);

    const second = FakeWebSocket.last();
    second.open();
    second.ready();
    expect(second.frames()).toEqual([
      { type: "auth", token: "t1" },
      { type: "subscribe", channel: CHANNEL, resume_from: 42 },
    ]);

    // The replay: nothing doubled, nothing missed.
    second.receive({ type: "subscribed", channel: CHANNEL, seq: 42 });
    second.receive(data(42, 2, 3)); // already had it
    second.receive(data(43, 3, 4));
    expect(store.get("web1:cpu")!.avg).toEqual([1, 2, 3, 4]);
    expect(hub.lastSeq(CHANNEL)).toBe(43);
  });

  it("doubles the backoff ceiling per failed attempt, caps it, and resets after 10 s ready", async () => {
    const { socket } = setup(() => 0.999);
    socket.start();
    await settle();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      const before = FakeWebSocket.created.length;
      FakeWebSocket.last().serverClose(1006); // abnormal: fails before ready
      const state = socket.state.get();
      expect(state.status).toBe("reconnecting");
      const delay = state.status === "reconnecting" ? state.retryAt - Date.now() : -1;
      delays.push(delay);
      if (delay > 0) {
        await vi.advanceTimersByTimeAsync(delay - 1);
        expect(FakeWebSocket.created.length).toBe(before);
      }
      await vi.advanceTimersByTimeAsync(1);
      expect(FakeWebSocket.created.length).toBe(before + 1);
    }
    // floor(0.999 × min(30000, 500 × 2ⁿ))
    expect(delays).toEqual([499, 999, 1998, 3996, 7992, 15984, 29970, 29970]);

    const ws = FakeWebSocket.last();
    ws.open();
    ws.ready();
    await vi.advanceTimersByTimeAsync(10_000); // stayed ready for 10 s
    ws.serverClose(4408);
    const state = socket.state.get();
    expect(state.status === "reconnecting" && state.retryAt - Date.now()).toBe(499);
  });

  it("stays within [0, ceiling) for any random value", async () => {
    for (const r of [0, 0.25, 0.9999]) {
      FakeWebSocket.reset();
      const { socket } = setup(() => r);
      socket.start();
      await settle();
      FakeWebSocket.last().serverClose(4409);
      const state = socket.state.get();
      const delay = state.status === "reconnecting" ? state.retryAt - Date.now() : -1;
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(500);
      expect(delay).toBe(Math.floor(r * 500));
      socket.stop();
    }
  });

  it("refreshes the access token after 4401 before reconnecting with the new one", async () => {
    const { socket, tokens, refreshesAtCreation } = setup(() => 0);
    socket.start();
    const first = await openReady();
    expect(refreshesAtCreation).toEqual([0]);

    first.serverClose(4401);
    await settle();
    expect(tokens.refreshCalls).toBe(1);
    await vi.advanceTimersByTimeAsync(0); // backoff 0 with random 0
    await settle();
    expect(FakeWebSocket.created).toHaveLength(2);
    expect(refreshesAtCreation).toEqual([0, 1]); // the refresh came first
    const second = FakeWebSocket.last();
    second.open();
    expect(second.frames()[0]).toEqual({ type: "auth", token: "t2" });
  });

  it("goes to the login page when the refresh after 4401 is refused", async () => {
    const { socket, tokens, onUnauthorized } = setup(() => 0);
    tokens.nextRefresh = null;
    socket.start();
    const first = await openReady();
    first.serverClose(4401);
    await settle();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(FakeWebSocket.created).toHaveLength(1);
    expect(socket.state.get()).toEqual({ status: "offline" });
  });

  it("sends a fresh auth frame after every token refresh, keeping the socket open", async () => {
    const { socket, tokens } = setup();
    socket.start();
    const ws = await openReady();
    tokens.emit("t3");
    expect(ws.frames().at(-1)).toEqual({ type: "auth", token: "t3" });
    tokens.emit("t3"); // the same token is not sent twice
    expect(ws.framesOf("auth")).toEqual([
      { type: "auth", token: "t1" },
      { type: "auth", token: "t3" },
    ]);
    expect(ws.closedWith).toBeNull();
  });

  it("renews the token before the ready frame's expires_at", async () => {
    const { socket, tokens } = setup();
    const current = vi.spyOn(tokens, "current");
    socket.start();
    const ws = await settleAndOpen();
    ws.ready(300); // the socket's token expires in 5 minutes
    current.mockClear();
    tokens.token = "t4"; // what a refresh would return
    for (let k = 0; k < 11; k++) {
      await vi.advanceTimersByTimeAsync(20_000);
      ws.receive({ type: "ping" }); // heartbeats keep it alive
    }
    await vi.advanceTimersByTimeAsync(19_000);
    expect(current).not.toHaveBeenCalled();
    expect(FakeWebSocket.created).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000); // 60 s before expiry
    expect(current).toHaveBeenCalledWith(90_000); // valid for at least the lead + 30 s
    expect(ws.frames().at(-1)).toEqual({ type: "auth", token: "t4" });
  });

  it("treats silence for 2½ heartbeats as a dead connection", async () => {
    const { socket } = setup(() => 0.5);
    socket.start();
    const ws = await openReady(); // heartbeat 20 s
    await vi.advanceTimersByTimeAsync(49_000);
    expect(socket.state.get().status).toBe("open");
    await vi.advanceTimersByTimeAsync(2_000);
    expect(ws.closedWith).toBe(4000);
    expect(socket.state.get().status).toBe("reconnecting");
  });

  it("falls back to a history subscribe when the resume is refused as replay_too_large", async () => {
    const { socket, hub } = setup(() => 0);
    hub.acquire("web1", "cpu", RAW_5M);
    socket.start();
    const first = await openReady();
    first.receive({ type: "subscribed", channel: CHANNEL, seq: 7, history: { start: "2026-01-10T12:00:00Z", bucket_s: 0, series: [] } });
    first.serverClose(1012);
    await vi.advanceTimersByTimeAsync(0);
    const second = await openReady();
    expect(second.framesOf("subscribe")).toEqual([{ type: "subscribe", channel: CHANNEL, resume_from: 7 }]);
    second.receive({ type: "error", code: "replay_too_large", message: "too much", channel: CHANNEL });
    expect(second.framesOf("subscribe").at(-1)).toEqual({
      type: "subscribe",
      channel: CHANNEL,
      history: { minutes: 5, max_points: 10_000 },
    });
  });
});

async function settleAndOpen(): Promise<FakeWebSocket> {
  await settle();
  const ws = FakeWebSocket.last();
  ws.open();
  return ws;
}
