/**
 * Event channels (`class:<class_id>`): reference-counted subscriptions over the one socket,
 * like the hub's series channels, for feeds of events instead of points.
 *
 * The gateway answers a subscribe with `subscribed`, then `events` frames — first the
 * channel's history (its latest events), then live ones — each with the stream sequence it is
 * complete up to. After a reconnect a channel that has a sequence resumes from it (the gateway
 * replays what was missed); `replay_too_large` or a `gap` frame tells the watchers that events
 * may be missing, so they can re-read the stored picture over REST.
 *
 * Each channel keeps its latest events (by arrival, without repeats: an event is known by its
 * id), so a view that comes back within the release delay gets them at once instead of a new
 * history subscribe. Watchers receive only events the channel had not seen.
 */
import type { ServerFrame, Subscribe } from "../api/gateway.gen";
import type { ChannelStatus, SocketPort } from "./hub";

/**
 * A frame of events on an event channel (the gateway's `events` frame).
 * TEMPORARY hand-written shape: after the live classroom channel (branch cls-live) is merged,
 * `make types` generates it into gateway.gen.ts's ServerFrame, and this type and `LiveFrame`
 * can become aliases of the generated ones.
 */
export interface EventsFrame<E = unknown> {
  type: "events";
  channel: string;
  seq: number;
  events: E[];
}

/** Every frame the socket hands the live layer. */
export type LiveFrame = ServerFrame | EventsFrame;

export interface KeyedEvent {
  eventId: string;
}

export interface EventsWatcher<E extends KeyedEvent> {
  /** Events new to this channel, in arrival order (history first, then live). */
  onEvents(events: E[]): void;
  /** Events may have been missed (a gap, a replay too large): re-read the stored picture. */
  onGap?(): void;
  onStatus?(status: ChannelStatus): void;
}

export interface EventChannelsOptions {
  releaseDelayMs?: number;
  /** Latest events kept per channel (and asked for as history). */
  keep?: number;
  onError?: (message: string, error?: unknown) => void;
}

/** History minutes asked with a subscribe: the gateway's cap; the class feed's history is
 * its latest `keep` events within it. */
const HISTORY_MINUTES = 60;
const RETRY_MS = 2_000;

type Wire = "none" | "subscribing" | "live";

interface EventChannel {
  name: string;
  watchers: Map<number, EventsWatcher<KeyedEvent>>;
  wire: Wire;
  lastSeq: number | null;
  events: KeyedEvent[];
  ids: Set<string>;
  status: ChannelStatus;
  releaseTimer: ReturnType<typeof setTimeout> | null;
  retryTimer: ReturnType<typeof setTimeout> | null;
}

export class EventChannels {
  private readonly channels = new Map<string, EventChannel>();
  private nextId = 1;
  private readonly releaseDelayMs: number;
  private readonly keep: number;
  private readonly onError: (message: string, error?: unknown) => void;

  constructor(
    private readonly socket: SocketPort,
    options: EventChannelsOptions = {},
  ) {
    this.releaseDelayMs = options.releaseDelayMs ?? 10_000;
    this.keep = options.keep ?? 200;
    this.onError =
      options.onError ?? ((message, error) => console.warn(`pulse live: ${message}`, error ?? ""));
  }

  /** Watch an event channel; the events it holds already are delivered at once. Returns the
   * release function (safe to call twice). */
  acquire<E extends KeyedEvent>(channelName: string, watcher: EventsWatcher<E>): () => void {
    let channel = this.channels.get(channelName);
    if (!channel) {
      channel = {
        name: channelName,
        watchers: new Map(),
        wire: "none",
        lastSeq: null,
        events: [],
        ids: new Set(),
        status: { state: "pending" },
        releaseTimer: null,
        retryTimer: null,
      };
      this.channels.set(channelName, channel);
    }
    if (channel.releaseTimer !== null) {
      clearTimeout(channel.releaseTimer);
      channel.releaseTimer = null;
    }
    const id = this.nextId++;
    const held = channel;
    held.watchers.set(id, watcher as unknown as EventsWatcher<KeyedEvent>);
    if (held.events.length > 0) watcher.onEvents([...held.events] as E[]);
    watcher.onStatus?.(held.status);
    if (held.wire === "none" && held.retryTimer === null) this.subscribe(held);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held.watchers.delete(id);
      if (held.watchers.size === 0 && this.channels.get(held.name) === held) {
        held.releaseTimer = setTimeout(() => this.release(held), this.releaseDelayMs);
      }
    };
  }

  /** The latest events of a channel, oldest first. */
  recent<E extends KeyedEvent>(channelName: string): E[] {
    return [...(this.channels.get(channelName)?.events ?? [])] as E[];
  }

  status(channelName: string): ChannelStatus {
    return this.channels.get(channelName)?.status ?? { state: "pending" };
  }

  lastSeq(channelName: string): number | null {
    return this.channels.get(channelName)?.lastSeq ?? null;
  }

  channelNames(): string[] {
    return [...this.channels.keys()];
  }

  /** Whether a frame belongs to an event channel (then `onFrame` takes it). */
  owns(frame: LiveFrame): boolean {
    if (frame.type === "events") return true;
    const channel = "channel" in frame ? frame.channel : null;
    return typeof channel === "string" && this.channels.has(channel);
  }

  // -- the socket's events -------------------------------------------------------------------

  onReady(): void {
    for (const channel of [...this.channels.values()]) {
      channel.wire = "none";
      if (channel.watchers.size === 0) {
        this.release(channel);
        continue;
      }
      this.subscribe(channel);
    }
  }

  onClose(): void {
    for (const channel of this.channels.values()) {
      channel.wire = "none";
      if (channel.status.state === "live") this.setStatus(channel, { state: "pending" });
      if (channel.retryTimer !== null) clearTimeout(channel.retryTimer);
      channel.retryTimer = null;
    }
  }

  onFrame(frame: LiveFrame): void {
    switch (frame.type) {
      case "events":
        this.onEvents(frame);
        return;
      case "subscribed": {
        const channel = this.channels.get(frame.channel);
        if (!channel) return;
        channel.wire = "live";
        channel.lastSeq = Math.max(channel.lastSeq ?? frame.seq, frame.seq);
        this.setStatus(channel, { state: "live" });
        return;
      }
      case "gap": {
        const channel = this.channels.get(frame.channel);
        if (channel) this.gap(channel);
        return;
      }
      case "unsubscribed": {
        const channel = this.channels.get(frame.channel);
        if (channel && channel.wire === "live") channel.wire = "none";
        return;
      }
      case "error":
        if (frame.channel) this.onChannelError(frame.channel, frame.code, frame.message);
        return;
      default:
        return;
    }
  }

  /** Forgets every channel (signed out). */
  reset(): void {
    for (const channel of this.channels.values()) this.clearTimers(channel);
    this.channels.clear();
  }

  // -- internals -----------------------------------------------------------------------------

  private subscribe(channel: EventChannel): void {
    if (!this.socket.isReady()) return; // subscribed when the socket is ready
    const frame: Subscribe = { type: "subscribe", channel: channel.name };
    if (channel.lastSeq !== null) frame.resume_from = channel.lastSeq;
    else frame.history = { minutes: HISTORY_MINUTES, max_points: this.keep };
    if (!this.socket.send(frame)) return;
    channel.wire = "subscribing";
    if (channel.status.state !== "pending") this.setStatus(channel, { state: "pending" });
  }

  private onEvents(frame: EventsFrame): void {
    const channel = this.channels.get(frame.channel);
    if (!channel) return;
    channel.lastSeq = Math.max(channel.lastSeq ?? frame.seq, frame.seq);
    if (channel.wire !== "live") {
      channel.wire = "live";
      this.setStatus(channel, { state: "live" });
    }
    const fresh: KeyedEvent[] = [];
    for (const event of frame.events as KeyedEvent[]) {
      if (!event || typeof event.eventId !== "string" || channel.ids.has(event.eventId)) continue;
      channel.ids.add(event.eventId);
      fresh.push(event);
    }
    if (fresh.length === 0) return;
    channel.events.push(...fresh);
    this.trim(channel);
    for (const watcher of [...channel.watchers.values()]) watcher.onEvents(fresh);
  }

  /** Keeps the latest `keep` events; ids are remembered for four times as many, so a late
   * repeat of an event that scrolled out is still recognised. */
  private trim(channel: EventChannel): void {
    const excess = channel.events.length - this.keep;
    if (excess > 0) channel.events.splice(0, excess);
    if (channel.ids.size > this.keep * 4) {
      const keepIds = [...channel.ids].slice(-this.keep * 2);
      channel.ids = new Set(keepIds);
    }
  }

  private gap(channel: EventChannel): void {
    for (const watcher of [...channel.watchers.values()]) watcher.onGap?.();
  }

  private setStatus(channel: EventChannel, status: ChannelStatus): void {
    channel.status = status;
    for (const watcher of [...channel.watchers.values()]) watcher.onStatus?.(status);
  }

  private release(channel: EventChannel): void {
    if (channel.watchers.size > 0) return;
    this.clearTimers(channel);
    if (this.channels.get(channel.name) === channel) this.channels.delete(channel.name);
    if (channel.wire !== "none") this.socket.send({ type: "unsubscribe", channel: channel.name });
    channel.wire = "none";
  }

  private clearTimers(channel: EventChannel): void {
    if (channel.releaseTimer !== null) clearTimeout(channel.releaseTimer);
    if (channel.retryTimer !== null) clearTimeout(channel.retryTimer);
    channel.releaseTimer = channel.retryTimer = null;
  }

  private onChannelError(channelName: string, code: string, message: string): void {
    const channel = this.channels.get(channelName);
    if (!channel) return;
    switch (code) {
      case "replay_too_large":
        // Too much to replay: start over from history and tell the watchers to re-read.
        channel.wire = "none";
        channel.lastSeq = null;
        if (channel.watchers.size > 0) this.subscribe(channel);
        this.gap(channel);
        return;
      case "already_subscribed":
        channel.wire = "live";
        this.setStatus(channel, { state: "live" });
        return;
      case "not_subscribed":
        return;
      case "unavailable":
      case "rate_limited":
        channel.wire = "none";
        if (channel.retryTimer === null) {
          channel.retryTimer = setTimeout(() => {
            channel.retryTimer = null;
            if (channel.watchers.size > 0 && channel.wire === "none") this.subscribe(channel);
          }, RETRY_MS);
        }
        return;
      default:
        channel.wire = "none";
        this.setStatus(channel, { state: "error", message });
        this.onError(`${channelName}: ${message}`);
    }
  }
}
