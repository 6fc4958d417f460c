import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ClientFrame } from "../api/gateway.gen";
import type { SocketPort } from "../live/hub";
import { LogsChannel } from "./channel";
import { accessRecord, liveStep } from "../test/auditData";
import type { LogRecord } from "./types";

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

const SUBSCRIBE = { type: "subscribe", channel: "logs" };
const UNSUBSCRIBE = { type: "unsubscribe", channel: "logs" };

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("the logs channel", () => {
  it("subscribes for the first watcher, hands each batch to every watcher, leaves after the last", () => {
    const port = new FakePort();
    const channel = new LogsChannel(port);
    const a: LogRecord[][] = [];
    const b: LogRecord[][] = [];
    const stopA = channel.watch((records) => a.push(records));
    const stopB = channel.watch((records) => b.push(records));
    expect(port.sent).toEqual([SUBSCRIBE]);
    expect(channel.status.get()).toEqual({ state: "pending" });
    channel.onFrame({ type: "subscribed", channel: "logs", seq: 7 });
    expect(channel.status.get()).toEqual({ state: "live" });
    const batch = { type: "logs", channel: "logs", seq: 8, records: [accessRecord(), liveStep(), { type: "other" }] };
    expect(channel.owns(batch)).toBe(true);
    channel.onFrame(batch);
    expect(a).toEqual([[accessRecord(), liveStep()]]);
    expect(b).toEqual(a);
    stopA();
    stopA();
    expect(port.sent).toEqual([SUBSCRIBE]);
    stopB();
    expect(port.sent).toEqual([SUBSCRIBE, UNSUBSCRIBE]);
    expect(channel.status.get()).toEqual({ state: "off" });
  });

  it("owns only its own frames", () => {
    const channel = new LogsChannel(new FakePort());
    expect(channel.owns({ type: "subscribed", channel: "notifications", seq: 1 })).toBe(false);
    expect(channel.owns({ type: "error", code: "forbidden", message: "no", channel: "logs" })).toBe(true);
    expect(channel.owns({ type: "ping" })).toBe(false);
  });

  it("subscribes when the socket becomes ready, and again after a reconnect", () => {
    const port = new FakePort();
    port.ready = false;
    const channel = new LogsChannel(port);
    channel.watch(() => undefined);
    expect(port.sent).toEqual([]);
    port.ready = true;
    channel.onReady();
    expect(port.sent).toEqual([SUBSCRIBE]);
    channel.onFrame({ type: "subscribed", channel: "logs", seq: 1 });
    channel.onClose();
    expect(channel.status.get()).toEqual({ state: "pending" });
    channel.onReady();
    expect(port.sent).toEqual([SUBSCRIBE, SUBSCRIBE]);
  });

  it("does not subscribe with no watcher", () => {
    const port = new FakePort();
    const channel = new LogsChannel(port);
    channel.onReady();
    expect(port.sent).toEqual([]);
  });

  it("shows a refusal (not an admin), and retries when the gateway is unavailable", () => {
    const port = new FakePort();
    const channel = new LogsChannel(port, 100);
    channel.watch(() => undefined);
    channel.onFrame({ type: "error", code: "unavailable", message: "try again", channel: "logs" });
    expect(channel.status.get()).toEqual({ state: "pending" });
    vi.advanceTimersByTime(100);
    expect(port.sent).toEqual([SUBSCRIBE, SUBSCRIBE]);
    channel.onFrame({ type: "error", code: "forbidden", message: "the user role may not watch 'logs'", channel: "logs" });
    expect(channel.status.get()).toEqual({ state: "error", message: "the user role may not watch 'logs'" });
  });

  it("forgets its watchers when signed out", () => {
    const port = new FakePort();
    const channel = new LogsChannel(port);
    const seen: LogRecord[][] = [];
    const stop = channel.watch((records) => seen.push(records));
    channel.reset();
    channel.onFrame({ type: "logs", channel: "logs", records: [accessRecord()] });
    expect(seen).toEqual([]);
    stop();
    expect(port.sent).toEqual([SUBSCRIBE]);
    expect(channel.status.get()).toEqual({ state: "off" });
  });
});
