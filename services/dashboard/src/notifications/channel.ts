/**
 * The `notifications` channel on the tab's one socket: always the signed-in user's own, so it
 * is subscribed whenever the socket is ready (not reference-counted like series and class
 * channels), and holds the unread count the bell shows.
 *
 * After `subscribed` it reads `GET /api/v1/notifications/unread` and keeps the count of the
 * highest inbox version seen (./unread.ts), so a change that raced the read cannot be lost.
 * Every frame's `seq` is kept: after a reconnect the channel resumes with `resume_from` and the
 * gateway replays the changes missed meanwhile. A `gap` frame or `replay_too_large` (changes
 * may be missing) reads the count again and tells the watchers (the inbox reads its list again).
 */
import type { SocketPort } from "../live/hub";
import type { LiveFrame } from "../live/eventChannels";
import { UnreadCount } from "./unread";
import { NOTIFICATIONS_CHANNEL, type InboxCount, type NotificationFrame } from "./types";

export interface NotificationWatcher {
  /** One change of the inbox, in order (replayed ones after a reconnect included). */
  onChange(frame: NotificationFrame): void;
  /** Changes may have been missed: read the list again. */
  onGap?(): void;
}

export type NotificationsStatus = "pending" | "live" | "error";

export interface NotificationsOptions {
  /** How long to wait before subscribing again after `unavailable` or `rate_limited`. */
  retryMs?: number;
  onError?: (message: string, error?: unknown) => void;
}

type Wire = "none" | "subscribing" | "live";

export class NotificationsChannel {
  readonly count = new UnreadCount();
  private wire: Wire = "none";
  private lastSeq: number | null = null;
  private status: NotificationsStatus = "pending";
  private readonly watchers = new Set<NotificationWatcher>();
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private generation = 0;
  private readonly retryMs: number;
  private readonly onError: (message: string, error?: unknown) => void;

  constructor(
    private readonly socket: SocketPort,
    private readonly fetchUnread: () => Promise<InboxCount>,
    options: NotificationsOptions = {},
  ) {
    this.retryMs = options.retryMs ?? 2_000;
    this.onError =
      options.onError ?? ((message, error) => console.warn(`pulse notifications: ${message}`, error ?? ""));
  }

  /** Follow the inbox's changes; returns the function that stops (safe to call twice). */
  watch(watcher: NotificationWatcher): () => void {
    const held = { ...watcher };
    this.watchers.add(held);
    return () => {
      this.watchers.delete(held);
    };
  }

  /** A count from a REST answer (a page, a mark): kept if it is the newest. */
  apply(count: InboxCount): void {
    this.count.apply(count);
  }

  lastSequence(): number | null {
    return this.lastSeq;
  }

  state(): NotificationsStatus {
    return this.status;
  }

  /** Whether a frame belongs to this channel (then `onFrame` takes it). */
  owns(frame: LiveFrame | { type: string; channel?: unknown }): boolean {
    if (frame.type === "notification") return true;
    return "channel" in frame && frame.channel === NOTIFICATIONS_CHANNEL;
  }

  // -- the socket's events -------------------------------------------------------------------

  onReady(): void {
    this.wire = "none";
    this.subscribe();
  }

  onClose(): void {
    this.wire = "none";
    this.status = "pending";
    this.clearRetry();
  }

  onFrame(frame: LiveFrame | NotificationFrame): void {
    switch (frame.type) {
      case "notification":
        this.onChange(frame as NotificationFrame);
        return;
      case "subscribed":
        this.wire = "live";
        this.status = "live";
        this.lastSeq = Math.max(this.lastSeq ?? frame.seq, frame.seq);
        this.readCount();
        return;
      case "gap":
        this.readCount();
        this.gap();
        return;
      case "unsubscribed":
        this.wire = "none";
        return;
      case "error":
        this.onChannelError(frame.code, frame.message);
        return;
      default:
        return;
    }
  }

  /** Forgets everything (signed out). */
  reset(): void {
    this.generation++;
    this.clearRetry();
    this.wire = "none";
    this.lastSeq = null;
    this.status = "pending";
    this.count.reset();
  }

  // -- internals -----------------------------------------------------------------------------

  private subscribe(): void {
    if (this.wire !== "none" || !this.socket.isReady()) return; // subscribed when ready
    const sent = this.socket.send(
      this.lastSeq !== null
        ? { type: "subscribe", channel: NOTIFICATIONS_CHANNEL, resume_from: this.lastSeq }
        : { type: "subscribe", channel: NOTIFICATIONS_CHANNEL },
    );
    if (sent) this.wire = "subscribing";
  }

  private onChange(frame: NotificationFrame): void {
    if (typeof frame.seq === "number") this.lastSeq = Math.max(this.lastSeq ?? frame.seq, frame.seq);
    this.count.apply({ unread: frame.unread, version: frame.version });
    for (const watcher of [...this.watchers]) watcher.onChange(frame);
  }

  private readCount(): void {
    const generation = this.generation;
    this.fetchUnread().then(
      (count) => {
        if (generation === this.generation) this.count.apply(count);
      },
      (error: unknown) => this.onError("could not read the unread count", error),
    );
  }

  private gap(): void {
    for (const watcher of [...this.watchers]) watcher.onGap?.();
  }

  private onChannelError(code: string, message: string): void {
    switch (code) {
      case "replay_too_large":
        // Too much to replay: start afresh (the count and the list are read again).
        this.wire = "none";
        this.lastSeq = null;
        this.subscribe();
        this.gap();
        return;
      case "already_subscribed":
        this.wire = "live";
        this.status = "live";
        return;
      case "not_subscribed":
        return;
      case "unavailable":
      case "rate_limited":
        this.wire = "none";
        if (this.retryTimer === null) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.subscribe();
          }, this.retryMs);
        }
        return;
      default:
        this.wire = "none";
        this.status = "error";
        this.onError(`${NOTIFICATIONS_CHANNEL}: ${message}`);
    }
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
