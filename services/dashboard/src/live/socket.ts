/**
 * The tab's one WebSocket to /ws: authentication, heartbeats, token renewal and reconnects.
 *
 * Open → send the auth frame → wait for `ready` → the listener (re)subscribes. On a close it
 * reconnects with exponential backoff and full jitter (reset once a connection stayed ready
 * for a while); a 4401 close refreshes the access token first, and if that is refused the
 * session is over. Every `ping` is answered with a `pong`; silence for 2½ heartbeats counts
 * as a dead connection. A fresher access token is sent as a new auth frame at once.
 */
import type { ClientFrame, CloseCode, Ready } from "../api/gateway.gen";
import type { LiveFrame } from "./eventChannels";
import { Backoff } from "./backoff";
import { Observable } from "./observable";

/** The gateway's close for a missing, invalid or expired token (checked against the
 * document's close codes: a code the gateway does not use fails the type check). */
const UNAUTHENTICATED = 4401 satisfies CloseCode;

export type ConnectionState =
  | { status: "offline" }
  | { status: "connecting" }
  | { status: "open" }
  | { status: "reconnecting"; retryAt: number };

/** The part of the browser's WebSocket this module uses (tests pass a fake). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export interface TokenSource {
  /** A token valid for at least `minValidityMs` (refreshing when needed); null: signed out. */
  current(minValidityMs?: number): Promise<string | null>;
  /** A new token now; null when the session is over (the refresh token was refused). */
  refresh(): Promise<string | null>;
  /** Called with every new token this tab obtains (here or from another tab). */
  onToken(listener: (token: string) => void): () => void;
}

export interface SocketListener {
  onReady(ready: Ready): void;
  onFrame(frame: LiveFrame): void;
  onClose(): void;
}

export interface NetworkStatus {
  isOnline(): boolean;
  subscribe(listener: () => void): () => void;
}

export interface LiveSocketOptions {
  url: string | (() => string);
  tokens: TokenSource;
  /** The session is over: go to the login page. */
  onUnauthorized(): void;
  createSocket?: (url: string) => WebSocketLike;
  random?: () => number;
  now?: () => number;
  baseMs?: number;
  capMs?: number;
  factor?: number;
  /** A connection that stayed ready this long resets the backoff. */
  stableMs?: number;
  network?: NetworkStatus;
}

const OPEN = 1;
const CLIENT_GONE_SILENT = 4000; // our own code: heartbeats stopped arriving

export class LiveSocket {
  readonly state = new Observable<ConnectionState>({ status: "offline" });
  private ws: WebSocketLike | null = null;
  private ready: Ready | null = null;
  private running = false;
  private generation = 0;
  private readonly backoff: Backoff;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private stableTimer: ReturnType<typeof setTimeout> | null = null;
  private renewTimer: ReturnType<typeof setTimeout> | null = null;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private lastHeard = 0;
  private sentToken: string | null = null;
  private listener: SocketListener | null = null;
  private readonly now: () => number;
  private readonly stableMs: number;
  private readonly createSocket: (url: string) => WebSocketLike;
  private readonly unsubscribes: Array<() => void> = [];

  constructor(private readonly options: LiveSocketOptions) {
    this.now = options.now ?? Date.now;
    this.stableMs = options.stableMs ?? 10_000;
    this.backoff = new Backoff({
      baseMs: options.baseMs ?? 500,
      capMs: options.capMs ?? 30_000,
      factor: options.factor ?? 2,
      random: options.random ?? Math.random,
    });
    this.createSocket =
      options.createSocket ?? ((url) => new WebSocket(url) as unknown as WebSocketLike);
  }

  setListener(listener: SocketListener): void {
    this.listener = listener;
  }

  isReady(): boolean {
    return this.ready !== null && this.ws !== null && this.ws.readyState === OPEN;
  }

  /** Opens the socket (once signed in). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.backoff.reset();
    this.unsubscribes.push(this.options.tokens.onToken((token) => this.renew(token)));
    const network = this.options.network;
    if (network) {
      this.unsubscribes.push(
        network.subscribe(() => {
          if (!this.running) return;
          if (network.isOnline()) {
            if (this.retryTimer !== null) this.connectNow();
          } else if (!this.isReady()) {
            this.state.set({ status: "offline" });
          }
        }),
      );
    }
    void this.connect();
  }

  /** Closes the socket for good (signed out). */
  stop(): void {
    this.running = false;
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
    this.clearTimers();
    this.drop(1000, "signed out");
    this.state.set({ status: "offline" });
  }

  /** Sends a frame once the socket is ready; false when it is not (it is re-sent on ready). */
  send(frame: ClientFrame): boolean {
    if (!this.isReady()) return false;
    this.ws!.send(JSON.stringify(frame));
    return true;
  }

  /** Skips the wait of a pending reconnect (e.g. the browser is back online). */
  connectNow(): void {
    if (!this.running || this.ws) return;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    void this.connect();
  }

  private async connect(): Promise<void> {
    this.retryTimer = null;
    if (!this.running) return;
    const generation = ++this.generation;
    this.state.set({ status: "connecting" });
    let token: string | null;
    try {
      token = await this.options.tokens.current(60_000);
    } catch {
      // The auth service or the network failed: try again later.
      if (generation === this.generation && this.running) this.scheduleReconnect();
      return;
    }
    if (generation !== this.generation || !this.running) return;
    if (token === null) {
      this.unauthorized();
      return;
    }
    const url = typeof this.options.url === "function" ? this.options.url() : this.options.url;
    let ws: WebSocketLike;
    try {
      ws = this.createSocket(url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.ready = null;
    const auth = token;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.sentToken = auth;
      ws.send(JSON.stringify({ type: "auth", token: auth } satisfies ClientFrame));
    };
    ws.onmessage = (event) => {
      if (this.ws === ws) this.receive(event.data);
    };
    ws.onerror = () => {
      /* a close event follows */
    };
    ws.onclose = (event) => {
      if (this.ws === ws) this.closed(event.code);
    };
  }

  private receive(data: unknown): void {
    if (typeof data !== "string") return; // JSON text frames only
    let frame: LiveFrame;
    try {
      frame = JSON.parse(data) as LiveFrame;
    } catch {
      return;
    }
    this.lastHeard = this.now();
    switch (frame.type) {
      case "ping":
        this.ws?.send(JSON.stringify({ type: "pong" } satisfies ClientFrame));
        return;
      case "pong":
        return;
      case "ready":
        this.onReady(frame);
        return;
      default:
        this.listener?.onFrame(frame);
    }
  }

  private onReady(ready: Ready): void {
    this.ready = ready;
    this.state.set({ status: "open" });
    this.clearTimer("stableTimer");
    this.stableTimer = setTimeout(() => {
      this.stableTimer = null;
      this.backoff.reset();
    }, this.stableMs);
    const expiresAt = Date.parse(ready.expires_at);
    this.scheduleRenewal(Number.isFinite(expiresAt) ? expiresAt : this.now() + 600_000);
    this.startWatchdog(ready.heartbeat_s);
    this.listener?.onReady(ready);
  }

  /** Before the token the socket holds expires, make sure a fresh one is sent. */
  private scheduleRenewal(expiresAt: number): void {
    this.clearTimer("renewTimer");
    // A minute before expiry (less for short-lived tokens); the session normally refreshes
    // earlier and the new token is sent at once, so this is the safety net.
    const lead = Math.min(60_000, Math.max(2_000, (expiresAt - this.now()) / 4));
    const delay = Math.max(1_000, expiresAt - this.now() - lead);
    this.renewTimer = setTimeout(() => {
      this.renewTimer = null;
      void this.options.tokens.current(lead + 30_000).then(
        (token) => {
          if (token === null) this.unauthorized();
          else this.renew(token);
        },
        () => {
          // Transient (network, auth service): try again in 15 s.
          this.renewTimer = setTimeout(() => this.scheduleRenewal(expiresAt), 15_000);
        },
      );
    }, delay);
  }

  private renew(token: string): void {
    if (!this.isReady() || token === this.sentToken) return;
    this.sentToken = token;
    this.ws!.send(JSON.stringify({ type: "auth", token } satisfies ClientFrame));
    const exp = jwtExpiry(token);
    this.scheduleRenewal(exp ?? this.now() + 600_000);
  }

  private startWatchdog(heartbeatS: number): void {
    this.clearTimer("watchdog");
    const limit = Math.max(5, heartbeatS) * 2.5 * 1000;
    this.lastHeard = this.now();
    this.watchdog = setInterval(() => {
      if (this.now() - this.lastHeard > limit) {
        // Nothing came for 2½ heartbeats: the connection is dead even if no close arrived.
        this.drop(CLIENT_GONE_SILENT, "no heartbeat");
        this.closed(CLIENT_GONE_SILENT);
      }
    }, 1_000);
  }

  private closed(code: number): void {
    if (this.ws) {
      this.ws = null;
      this.ready = null;
      this.sentToken = null;
      this.listener?.onClose();
    }
    this.clearTimer("stableTimer");
    this.clearTimer("renewTimer");
    this.clearTimer("watchdog");
    if (!this.running) return;
    if (code === UNAUTHENTICATED) {
      const generation = ++this.generation;
      this.state.set({ status: "connecting" });
      this.options.tokens.refresh().then(
        (token) => {
          if (generation !== this.generation || !this.running) return;
          if (token === null) this.unauthorized();
          else this.scheduleReconnect();
        },
        () => {
          if (generation === this.generation && this.running) this.scheduleReconnect();
        },
      );
      return;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.running) return;
    const delay = this.backoff.next();
    const offline = this.options.network && !this.options.network.isOnline();
    this.state.set(offline ? { status: "offline" } : { status: "reconnecting", retryAt: this.now() + delay });
    this.retryTimer = setTimeout(() => void this.connect(), delay);
  }

  private unauthorized(): void {
    this.running = false;
    this.clearTimers();
    this.drop(1000, "signed out");
    this.state.set({ status: "offline" });
    this.options.onUnauthorized();
  }

  /** Forgets the current socket (its events are ignored from now on) and closes it. */
  private drop(code: number, reason: string): void {
    const ws = this.ws;
    this.ws = null;
    this.ready = null;
    this.sentToken = null;
    this.generation++;
    if (ws) {
      this.listener?.onClose();
      ws.onopen = ws.onmessage = ws.onerror = ws.onclose = null;
      try {
        ws.close(code, reason);
      } catch {
        /* already closed */
      }
    }
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.clearTimer("stableTimer");
    this.clearTimer("renewTimer");
    this.clearTimer("watchdog");
  }

  private clearTimer(name: "stableTimer" | "renewTimer" | "watchdog"): void {
    const timer = this[name];
    if (timer !== null) {
      if (name === "watchdog") clearInterval(timer);
      else clearTimeout(timer);
    }
    this[name] = null;
  }
}

/** The `exp` claim of a JWT in epoch ms, or null (the token is only read, never trusted). */
export function jwtExpiry(token: string): number | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : null;
  } catch {
    return null;
  }
}
