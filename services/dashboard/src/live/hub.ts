/**
 * The series channels the tab watches: reference-counted subscriptions over the one socket,
 * the last stream sequence per channel (to resume after a reconnect), and gap repair.
 *
 * Views `acquire` a series with what they need (how many minutes back, raw points or not,
 * a rate cap) and release it when they go; a channel is unsubscribed only when no view has
 * used it for `releaseDelayMs`, so quick navigation does not resubscribe. A stronger need
 * (more minutes, raw points, no rate cap) than the live subscription provides resubscribes
 * with history; a weaker one reuses what is there.
 *
 * After a reconnect every channel with a last sequence resumes from it (no history, nothing
 * missed or doubled); `replay_too_large` falls back to a history subscribe. A `gap` frame
 * fetches the span between the last point before it and the first point after it from REST.
 *
 * Event channels (`class:<id>`) share the socket: `events` (./eventChannels.ts) takes their
 * frames, and follows the socket's ready and close as the series channels do.
 */
import type { ClientFrame, Data, Gap, MetricsHistory, Subscribe, Subscribed } from "../api/gateway.gen";
import { EventChannels, type LiveFrame } from "./eventChannels";
import { seriesKey, type SeriesStore } from "./store";
import { isoTime, parseTime } from "./time";

export interface Need {
  /** How far back the view shows, in minutes (socket history is capped at 60). */
  minutes: number;
  /** Points of socket history when raw points are not needed. */
  maxPoints: number;
  /** The view needs every point as measured (no buckets, no rate cap). */
  raw: boolean;
  /** At most this many frames a second; null: every frame. */
  maxRate: number | null;
}

export interface HistoryQuery {
  name: string;
  source: string;
  from: string;
  to: string;
  max_points: number;
}

export type FetchHistory = (query: HistoryQuery, signal?: AbortSignal) => Promise<MetricsHistory>;

export interface SocketPort {
  send(frame: ClientFrame): boolean;
  isReady(): boolean;
}

export interface ChannelSnapshot {
  lastSeq: number;
  rawFrom: number | null;
  anyFrom: number | null;
}

export type ChannelStatus = { state: "pending" } | { state: "live" } | { state: "error"; message: string };

export interface HubOptions {
  releaseDelayMs?: number;
  /** How long to wait for the first frame after a gap before fetching up to now. */
  gapWaitMs?: number;
  now?: () => number;
  onError?: (message: string, error?: unknown) => void;
}

export const RAW_HISTORY_POINTS = 10_000;
export const MAX_HISTORY_MINUTES = 60;
const COVERAGE_SLACK_MS = 10_000;

type Wire = "none" | "subscribing" | "live";

interface Channel {
  name: string;
  key: string;
  source: string;
  series: string;
  needs: Map<number, Need>;
  wire: Wire;
  /** What the pending or live subscription was asked to cover. */
  requested: Need | null;
  lastSeq: number | null;
  /** Raw points (every one, no rate cap) are held continuously from this time on. */
  rawFrom: number | null;
  /** Points of some resolution are held continuously from this time on. */
  anyFrom: number | null;
  /** Until when the coverage above is continuous (Infinity while live). */
  liveUntil: number;
  status: ChannelStatus;
  releaseTimer: ReturnType<typeof setTimeout> | null;
  retryTimer: ReturnType<typeof setTimeout> | null;
  gap: { from: number; timer: ReturnType<typeof setTimeout> } | null;
}

export class LiveHub {
  /** The event channels (`class:<id>`), on the same socket; frames for them go there. */
  readonly events: EventChannels;
  private readonly channels = new Map<string, Channel>();
  private seeds = new Map<string, ChannelSnapshot & { savedAt: number }>();
  private nextId = 1;
  private readonly releaseDelayMs: number;
  private readonly gapWaitMs: number;
  private readonly now: () => number;
  private readonly onError: (message: string, error?: unknown) => void;

  constructor(
    private readonly socket: SocketPort,
    private readonly store: SeriesStore,
    private readonly fetchHistory: FetchHistory,
    options: HubOptions = {},
  ) {
    this.releaseDelayMs = options.releaseDelayMs ?? 10_000;
    this.gapWaitMs = options.gapWaitMs ?? 5_000;
    this.now = options.now ?? Date.now;
    this.onError =
      options.onError ?? ((message, error) => console.warn(`pulse live: ${message}`, error ?? ""));
    this.events = new EventChannels(socket, { releaseDelayMs: this.releaseDelayMs, onError: this.onError });
  }

  static channelName(source: string, name: string): string {
    return `series:${source}:${name}`;
  }

  /** Watch a series; returns the release function (safe to call twice). */
  acquire(source: string, name: string, need: Need): () => void {
    const channelName = LiveHub.channelName(source, name);
    let channel = this.channels.get(channelName);
    if (!channel) {
      channel = this.createChannel(channelName, source, name);
      this.channels.set(channelName, channel);
    }
    if (channel.releaseTimer !== null) {
      clearTimeout(channel.releaseTimer);
      channel.releaseTimer = null;
    }
    const id = this.nextId++;
    channel.needs.set(id, need);
    this.ensure(channel);
    const held = channel;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held.needs.delete(id);
      if (held.needs.size === 0 && this.channels.get(held.name) === held) {
        held.releaseTimer = setTimeout(() => this.release(held), this.releaseDelayMs);
      }
    };
  }

  status(source: string, name: string): ChannelStatus {
    return this.channels.get(LiveHub.channelName(source, name))?.status ?? { state: "pending" };
  }

  /** Channels currently subscribed or wanted, for tests and diagnostics. */
  channelNames(): string[] {
    return [...this.channels.keys()];
  }

  lastSeq(channelName: string): number | null {
    return this.channels.get(channelName)?.lastSeq ?? null;
  }

  // -- the socket's events -------------------------------------------------------------------

  onReady(): void {
    this.events.onReady();
    for (const channel of [...this.channels.values()]) {
      channel.wire = "none";
      if (channel.needs.size === 0) {
        this.release(channel);
        continue;
      }
      this.subscribe(channel, true);
    }
  }

  onClose(): void {
    this.events.onClose();
    const now = this.now();
    for (const channel of this.channels.values()) {
      if (channel.wire === "live") channel.liveUntil = now;
      channel.wire = "none";
      if (channel.status.state === "live") channel.status = { state: "pending" };
      if (channel.retryTimer !== null) clearTimeout(channel.retryTimer);
      channel.retryTimer = null;
    }
  }

  onFrame(frame: LiveFrame): void {
    if (frame.type === "events" || this.events.owns(frame)) {
      this.events.onFrame(frame);
      return;
    }
    switch (frame.type) {
      case "subscribed":
        this.onSubscribed(frame);
        break;
      case "data":
        this.onData(frame);
        break;
      case "gap":
        this.onGap(frame);
        break;
      case "unsubscribed": {
        const channel = this.channels.get(frame.channel);
        if (channel && channel.wire === "live") channel.wire = "none";
        break;
      }
      case "error":
        if (frame.channel) this.onChannelError(frame.channel, frame.code, frame.message);
        break;
      default:
        break;
    }
  }

  // -- snapshots -----------------------------------------------------------------------------

  snapshot(): Record<string, ChannelSnapshot> {
    const result: Record<string, ChannelSnapshot> = {};
    for (const channel of this.channels.values()) {
      if (channel.lastSeq === null) continue;
      result[channel.name] = {
        lastSeq: channel.lastSeq,
        rawFrom: channel.rawFrom,
        anyFrom: channel.anyFrom,
      };
    }
    return result;
  }

  /** Sequences saved before a reload: the next acquire of each channel resumes from it. */
  restore(channels: Record<string, ChannelSnapshot>, savedAt: number): void {
    for (const [name, seed] of Object.entries(channels)) {
      if (!this.channels.has(name)) this.seeds.set(name, { ...seed, savedAt });
    }
  }

  /** Forgets every channel (signed out). */
  reset(): void {
    this.events.reset();
    for (const channel of this.channels.values()) this.clearTimers(channel);
    this.channels.clear();
    this.seeds.clear();
  }

  // -- internals -----------------------------------------------------------------------------

  private createChannel(channelName: string, source: string, name: string): Channel {
    const channel: Channel = {
      name: channelName,
      key: seriesKey(source, name),
      source,
      series: name,
      needs: new Map(),
      wire: "none",
      requested: null,
      lastSeq: null,
      rawFrom: null,
      anyFrom: null,
      liveUntil: -Infinity,
      status: { state: "pending" },
      releaseTimer: null,
      retryTimer: null,
      gap: null,
    };
    const seed = this.seeds.get(channelName);
    if (seed) {
      this.seeds.delete(channelName);
      channel.lastSeq = seed.lastSeq;
      channel.rawFrom = seed.rawFrom;
      channel.anyFrom = seed.anyFrom;
      channel.liveUntil = seed.savedAt;
    }
    return channel;
  }

  private effective(channel: Channel): Need {
    let minutes = 0;
    let maxPoints = 0;
    let raw = false;
    let maxRate: number | null = 0;
    for (const need of channel.needs.values()) {
      minutes = Math.max(minutes, need.minutes);
      maxPoints = Math.max(maxPoints, need.maxPoints);
      raw = raw || need.raw;
      maxRate = maxRate === null || need.maxRate === null ? null : Math.max(maxRate, need.maxRate);
    }
    if (raw || maxRate === 0) maxRate = null;
    return { minutes: Math.min(MAX_HISTORY_MINUTES, Math.max(minutes, 1)), maxPoints: Math.max(1, maxPoints), raw, maxRate };
  }

  /** Whether the points held already cover what `need` asks for (with a resume). */
  private covers(channel: Channel, need: Need): boolean {
    const horizon = this.now() - need.minutes * 60_000 + COVERAGE_SLACK_MS;
    const from = need.raw ? channel.rawFrom : channel.anyFrom;
    return from !== null && from <= horizon;
  }

  private rateSatisfies(have: number | null, want: number | null): boolean {
    return have === null || (want !== null && want <= have);
  }

  private ensure(channel: Channel): void {
    if (!this.socket.isReady() || channel.needs.size === 0) return;
    const want = this.effective(channel);
    if (channel.wire === "none") {
      if (channel.retryTimer === null) this.subscribe(channel, true);
      return;
    }
    const have = channel.requested;
    const enough =
      have !== null &&
      this.rateSatisfies(have.maxRate, want.maxRate) &&
      (channel.wire === "subscribing"
        ? have.minutes >= want.minutes && (have.raw || !want.raw)
        : this.covers(channel, want));
    if (enough) return;
    // Ask again for more: leave and come back with history (the gateway handles both
    // frames in order).
    this.socket.send({ type: "unsubscribe", channel: channel.name });
    channel.wire = "none";
    this.subscribe(channel, false);
  }

  private subscribe(channel: Channel, mayResume: boolean): void {
    const want = this.effective(channel);
    const frame: Subscribe = { type: "subscribe", channel: channel.name };
    if (want.maxRate !== null) frame.max_rate = want.maxRate;
    if (mayResume && channel.lastSeq !== null && this.covers(channel, want)) {
      frame.resume_from = channel.lastSeq;
    } else {
      frame.history = {
        minutes: want.minutes,
        max_points: want.raw ? RAW_HISTORY_POINTS : want.maxPoints,
      };
    }
    if (!this.socket.send(frame)) return; // sent again when the socket is ready
    channel.wire = "subscribing";
    channel.requested = want;
    channel.status = { state: "pending" };
  }

  private release(channel: Channel): void {
    if (channel.needs.size > 0) return;
    this.clearTimers(channel);
    if (this.channels.get(channel.name) === channel) this.channels.delete(channel.name);
    if (channel.wire !== "none") this.socket.send({ type: "unsubscribe", channel: channel.name });
    channel.wire = "none";
  }

  private clearTimers(channel: Channel): void {
    if (channel.releaseTimer !== null) clearTimeout(channel.releaseTimer);
    if (channel.retryTimer !== null) clearTimeout(channel.retryTimer);
    if (channel.gap) clearTimeout(channel.gap.timer);
    channel.releaseTimer = channel.retryTimer = null;
    channel.gap = null;
  }

  private onSubscribed(frame: Subscribed): void {
    const channel = this.channels.get(frame.channel);
    if (!channel) return;
    const now = this.now();
    const uncapped = (frame.max_rate ?? null) === null;
    channel.wire = "live";
    channel.lastSeq = frame.seq;
    channel.status = { state: "live" };
    const history = frame.history;
    if (history) {
      // Where the history starts, on this clock (history.start is the gateway's clock, which
      // may be skewed); measured now, it is at or after the true start, so it never
      // over-states what is held.
      const start = now - (channel.requested?.minutes ?? 0) * 60_000;
      const continuous = start <= channel.liveUntil;
      channel.anyFrom = continuous && channel.anyFrom !== null ? Math.min(channel.anyFrom, start) : start;
      if (!uncapped) channel.rawFrom = null;
      else if (history.bucket_s === 0)
        channel.rawFrom = continuous && channel.rawFrom !== null ? Math.min(channel.rawFrom, start) : start;
      else channel.rawFrom = continuous && channel.rawFrom !== null ? channel.rawFrom : now;
      const width = history.bucket_s * 1000;
      for (const series of history.series) {
        const key = seriesKey(series.source, series.name);
        const t: number[] = [];
        const avg: number[] = [];
        const min: number[] = [];
        const max: number[] = [];
        for (const point of series.points) {
          t.push(parseTime(point.time));
          avg.push(point.avg);
          min.push(point.min);
          max.push(point.max);
        }
        this.store.merge(key, { t, avg, min, max }, width);
      }
    } else if (!uncapped) {
      channel.rawFrom = null;
    } else if (channel.rawFrom === null) {
      channel.rawFrom = now;
    }
    if (channel.anyFrom === null) channel.anyFrom = now;
    channel.liveUntil = Infinity;
    this.store.touch(channel.key);
    // A need that arrived while this subscription was pending may want more.
    this.ensure(channel);
  }

  private onData(frame: Data): void {
    const channel = this.channels.get(frame.channel);
    if (!channel) return;
    if (channel.lastSeq !== null && frame.seq <= channel.lastSeq) return; // seen already
    channel.lastSeq = frame.seq;
    const key = seriesKey(frame.source, frame.name);
    this.store.setUnit(key, frame.unit);
    const t: number[] = [];
    const avg: number[] = [];
    let first = Infinity;
    for (const point of frame.points) {
      const time = parseTime(point.time);
      t.push(time);
      avg.push(point.value);
      if (time < first) first = time;
    }
    this.store.merge(key, { t, avg }, 0);
    if (channel.gap && Number.isFinite(first)) this.fillGap(channel, first);
  }

  private onGap(frame: Gap): void {
    const channel = this.channels.get(frame.channel);
    if (!channel) return;
    if (channel.gap) return; // the earlier gap's start still stands
    const last = this.store.get(channel.key)?.lastTime();
    const from =
      last ?? this.now() - (channel.requested?.minutes ?? this.effective(channel).minutes) * 60_000;
    const timer = setTimeout(() => this.fillGap(channel, this.now()), this.gapWaitMs);
    channel.gap = { from, timer };
  }

  /** Fetches [from, to) — the missing span — from REST and merges it. */
  private fillGap(channel: Channel, to: number): void {
    const gap = channel.gap;
    if (!gap) return;
    clearTimeout(gap.timer);
    channel.gap = null;
    if (to <= gap.from) return;
    const query: HistoryQuery = {
      name: channel.series,
      source: channel.source,
      from: isoTime(gap.from),
      to: isoTime(to),
      max_points: RAW_HISTORY_POINTS,
    };
    this.fetchHistory(query).then(
      (answer) => mergeHistory(this.store, channel.key, channel.source, answer),
      (error: unknown) => this.onError(`could not fill a gap in ${channel.name}`, error),
    );
  }

  private onChannelError(channelName: string, code: string, message: string): void {
    const channel = this.channels.get(channelName);
    if (!channel) return;
    switch (code) {
      case "replay_too_large":
        // Too much to read back: start over from history (the gateway has left the channel).
        channel.wire = "none";
        channel.lastSeq = null;
        channel.rawFrom = channel.anyFrom = null;
        if (channel.needs.size > 0) this.subscribe(channel, false);
        return;
      case "already_subscribed":
        channel.wire = "live";
        channel.status = { state: "live" };
        return;
      case "not_subscribed":
        return;
      case "unavailable":
      case "rate_limited":
        channel.wire = "none";
        if (channel.retryTimer === null) {
          channel.retryTimer = setTimeout(() => {
            channel.retryTimer = null;
            this.ensure(channel);
          }, 2_000);
        }
        return;
      default:
        channel.wire = "none";
        channel.status = { state: "error", message };
        this.store.touch(channel.key);
        this.onError(`${channelName}: ${message}`);
    }
  }
}

/** Merges a REST history answer (raw or bucketed) for one series into the store. */
export function mergeHistory(
  store: SeriesStore,
  key: string,
  source: string,
  answer: MetricsHistory,
): void {
  const batch = historyBatch(answer, source);
  store.merge(key, batch, historyWidthMs(answer));
}

export function historyWidthMs(answer: MetricsHistory): number {
  return answer.bucket_seconds ? answer.bucket_seconds * 1000 : 0;
}

export function historyBatch(
  answer: MetricsHistory,
  source: string,
): { t: number[]; avg: number[]; min: number[]; max: number[] } {
  const t: number[] = [];
  const avg: number[] = [];
  const min: number[] = [];
  const max: number[] = [];
  for (const row of answer.series) {
    if (row.source !== source) continue;
    const value = row.avg ?? row.value;
    t.push(parseTime(row.timestamp));
    avg.push(value);
    min.push(row.min ?? value);
    max.push(row.max ?? value);
  }
  return { t, avg, min, max };
}
