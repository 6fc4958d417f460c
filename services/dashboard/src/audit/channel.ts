/**
 * The `logs` channel on the tab's one socket (admins only): every record the services publish
 * to the LOGS stream, as it is published. Subscribed while some page watches it (the Logs
 * page's live tail) and left when the last one stops; after a reconnect it subscribes again
 * (a tail shows what happens from now on: what was published while the socket was away is in
 * the stored pages, not replayed here).
 */
import type { LiveFrame } from "../live/eventChannels";
import type { SocketPort } from "../live/hub";
import { Observable } from "../live/observable";
import { LOGS_CHANNEL, type LogRecord } from "./types";

export type LogsStatus =
  | { state: "off" }
  | { state: "pending" }
  | { state: "live" }
  | { state: "error"; message: string };

export type LogsListener = (records: LogRecord[]) => void;

type Wire = "none" | "subscribing" | "live";

interface ChannelFrame {
  type: string;
  channel?: unknown;
  records?: unknown;
  code?: unknown;
  message?: unknown;
}

export class LogsChannel {
  readonly status = new Observable<LogsStatus>({ state: "off" });
  private readonly listeners = new Set<{ listener: LogsListener }>();
  private wire: Wire = "none";
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly socket: SocketPort,
    private readonly retryMs = 2_000,
  ) {}

  /** Receive the records as they come; returns the function that stops (safe to call twice). */
  watch(listener: LogsListener): () => void {
    const held = { listener };
    this.listeners.add(held);
    if (this.listeners.size === 1) {
      this.status.set({ state: "pending" });
      this.subscribe();
    }
    return () => {
      if (!this.listeners.delete(held) || this.listeners.size > 0) return;
      this.clearRetry();
      if (this.wire !== "none") this.socket.send({ type: "unsubscribe", channel: LOGS_CHANNEL });
      this.wire = "none";
      this.status.set({ state: "off" });
    };
  }

  /** Whether a frame belongs to this channel (then `onFrame` takes it). */
  owns(frame: LiveFrame | ChannelFrame): boolean {
    return "channel" in frame && frame.channel === LOGS_CHANNEL;
  }

  onReady(): void {
    this.wire = "none";
    this.subscribe();
  }

  onClose(): void {
    this.wire = "none";
    this.clearRetry();
    if (this.listeners.size > 0) this.status.set({ state: "pending" });
  }

  onFrame(frame: LiveFrame | ChannelFrame): void {
    const f = frame as ChannelFrame;
    if (Array.isArray(f.records)) {
      const records = f.records.filter(
        (r): r is LogRecord => typeof r === "object" && r !== null && ((r as LogRecord).type === "access" || (r as LogRecord).type === "step"),
      );
      if (records.length > 0) for (const held of [...this.listeners]) held.listener(records);
      return;
    }
    switch (f.type) {
      case "subscribed":
        this.wire = "live";
        if (this.listeners.size > 0) this.status.set({ state: "live" });
        else this.leave();
        return;
      case "unsubscribed":
        this.wire = "none";
        return;
      case "error":
        this.onChannelError(String(f.code), String(f.message ?? f.code));
        return;
      default:
        return; // gap: a tail only shows what comes from now on
    }
  }

  /** Forgets everything (signed out). */
  reset(): void {
    this.clearRetry();
    this.listeners.clear();
    this.wire = "none";
    this.status.set({ state: "off" });
  }

  private subscribe(): void {
    if (this.listeners.size === 0 || this.wire !== "none" || !this.socket.isReady()) return;
    if (this.socket.send({ type: "subscribe", channel: LOGS_CHANNEL })) this.wire = "subscribing";
  }

  private leave(): void {
    if (this.socket.send({ type: "unsubscribe", channel: LOGS_CHANNEL })) this.wire = "none";
  }

  private onChannelError(code: string, message: string): void {
    switch (code) {
      case "already_subscribed":
        this.wire = "live";
        if (this.listeners.size > 0) this.status.set({ state: "live" });
        return;
      case "not_subscribed":
        this.wire = "none";
        return;
      case "unavailable":
      case "rate_limited":
        this.wire = "none";
        if (this.retryTimer === null && this.listeners.size > 0) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.subscribe();
          }, this.retryMs);
        }
        return;
      default:
        this.wire = "none";
        if (this.listeners.size > 0) this.status.set({ state: "error", message });
    }
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
