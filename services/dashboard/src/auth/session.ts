/**
 * The signed-in session: the access token (memory + sessionStorage, so a reload needs no
 * refresh while it is valid), refreshing it shortly before it expires and after a 401, and
 * who is signed in.
 *
 * Refresh tokens rotate and a reused one revokes the whole chain, so tabs must not refresh
 * at the same time: refreshes run under the Web Lock "pulse-refresh", and a tab that gets a
 * new access token tells the others over a BroadcastChannel. A tab that waited for the lock
 * and meanwhile heard of a fresh token uses it instead of refreshing again. A new tab first
 * asks the others for their token.
 */
import type { LoginBody, Me, TokenResponse } from "../api/gateway.gen";
import { ApiError } from "../api/http";
import { Observable } from "../live/observable";
import type { StorageLike } from "../live/snapshot";

export type SessionState =
  | { status: "checking" }
  | { status: "signedOut"; message?: string; loggedOut?: boolean }
  | { status: "signedIn"; me: Me };

export interface StoredToken {
  token: string;
  expiresAt: number;
}

export type SessionMessage =
  | { type: "token"; token: string; expiresAt: number }
  | { type: "logout" }
  | { type: "request" };

export interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

export interface MessageChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
}

export interface SessionDeps {
  login(body: LoginBody): Promise<TokenResponse>;
  /** POST /api/v1/auth/refresh with {} (the cookie carries the refresh token). */
  refresh(): Promise<TokenResponse>;
  logout(): Promise<unknown>;
  me(): Promise<Me>;
  storage?: StorageLike | null;
  locks?: LockManagerLike | null;
  channel?: MessageChannelLike | null;
  now?: () => number;
  random?: () => number;
  /** How long a new tab waits for another tab's token. */
  peerWaitMs?: number;
  /** After taking the lock, how long to let a peer's broadcast arrive. */
  settleMs?: number;
}

export const TOKEN_KEY = "pulse.token";
export const REFRESH_LOCK = "pulse-refresh";

export class Session {
  readonly state = new Observable<SessionState>({ status: "checking" });
  private token: StoredToken | null = null;
  private inflight: Promise<string | null> | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly tokenListeners = new Set<(token: string) => void>();
  private readonly peerWaiters = new Set<() => void>();
  /** Tokens of sessions that were logged out: late messages carrying them are ignored. */
  private readonly ended = new Set<string>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly deps: SessionDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    deps.channel?.addEventListener("message", (event) => this.onMessage(event.data));
  }

  /** Restores the session: stored token, another tab's, or the refresh cookie. */
  async init(): Promise<void> {
    const stored = this.readStored();
    if (stored && stored.expiresAt - this.now() > 30_000) {
      this.setToken(stored, false);
    } else {
      const peer = await this.askPeers();
      if (peer) {
        this.setToken(peer, false);
      } else {
        try {
          if ((await this.refresh(null)) === null) return; // no session: log in
        } catch (error) {
          this.signOutLocal(messageOf(error));
          return;
        }
      }
    }
    await this.loadMe();
  }

  async login(email: string, password: string): Promise<void> {
    const answer = await this.deps.login({ email, password });
    this.setToken(this.fromResponse(answer), true);
    await this.loadMe();
  }

  async logout(): Promise<void> {
    try {
      if (this.token) await this.deps.logout();
    } catch {
      // The session ends here either way.
    }
    this.deps.channel?.postMessage({ type: "logout" } satisfies SessionMessage);
    this.signOutLocal(undefined, true);
  }

  /** A token valid for at least `minValidityMs`; refreshes when needed; null when signed out. */
  async getToken(minValidityMs = 30_000): Promise<string | null> {
    const current = this.token;
    if (current && current.expiresAt - this.now() > minValidityMs) return current.token;
    if (this.state.get().status === "signedOut") return null;
    return this.refresh(current?.token ?? null);
  }

  /** The current token without any refresh (null when there is none). */
  peekToken(): StoredToken | null {
    return this.token;
  }

  /**
   * A new access token. `stale` is the token that is known not to work (default: the
   * current one); when another tab has meanwhile provided a different, valid one, that one
   * is returned without asking the gateway. Null: the refresh token was refused (signed out).
   * Throws for transient failures (network, auth service down).
   */
  refresh(stale: string | null = this.token?.token ?? null): Promise<string | null> {
    if (this.inflight) return this.inflight;
    const run = async (): Promise<string | null> => {
      if (this.deps.locks && (this.deps.settleMs ?? 50) > 0) await sleep(this.deps.settleMs ?? 50);
      const current = this.token;
      if (current && current.token !== stale && current.expiresAt - this.now() > 60_000) {
        return current.token;
      }
      let answer: TokenResponse;
      try {
        answer = await this.deps.refresh();
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          const wasSignedIn = this.state.get().status === "signedIn";
          this.signOutLocal(wasSignedIn ? "Your session has ended. Please log in again." : undefined);
          return null;
        }
        throw error;
      }
      const fresh = this.fromResponse(answer);
      this.setToken(fresh, true);
      return fresh.token;
    };
    const locks = this.deps.locks;
    const promise = locks ? locks.request(REFRESH_LOCK, run) : run();
    this.inflight = promise.finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  onToken(listener: (token: string) => void): () => void {
    this.tokenListeners.add(listener);
    return () => {
      this.tokenListeners.delete(listener);
    };
  }

  /**
   * Ends the session in this tab only (e.g. the refresh token was refused). `loggedOut`:
   * the person logged out (here or in another tab), as opposed to the session expiring.
   */
  signOutLocal(message?: string, loggedOut = false): void {
    if (this.token) this.ended.add(this.token.token);
    this.token = null;
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    try {
      this.deps.storage?.removeItem(TOKEN_KEY);
    } catch {
      /* storage unavailable */
    }
    const state: SessionState = { status: "signedOut" };
    if (message) state.message = message;
    if (loggedOut) state.loggedOut = true;
    this.state.set(state);
  }

  // -- internals -----------------------------------------------------------------------------

  private async loadMe(): Promise<void> {
    try {
      const me = await this.deps.me();
      this.state.set({ status: "signedIn", me });
    } catch (error) {
      if (this.state.get().status !== "signedOut") this.signOutLocal(messageOf(error));
    }
  }

  private fromResponse(answer: TokenResponse): StoredToken {
    const lifetime = (answer.expires_in > 0 ? answer.expires_in : 900) * 1000;
    return { token: answer.access_token, expiresAt: this.now() + lifetime };
  }

  private setToken(token: StoredToken, broadcast: boolean): void {
    this.token = token;
    try {
      this.deps.storage?.setItem(TOKEN_KEY, JSON.stringify(token));
    } catch {
      /* storage unavailable: memory only */
    }
    if (broadcast) this.deps.channel?.postMessage({ type: "token", ...token } satisfies SessionMessage);
    this.scheduleRefresh();
    for (const listener of [...this.tokenListeners]) listener(token.token);
  }

  /** Refresh a minute (and a random bit more, so tabs spread out) before expiry. */
  private scheduleRefresh(): void {
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
    const token = this.token;
    if (!token) return;
    const lifetime = token.expiresAt - this.now();
    const lead = Math.min(60_000 + this.random() * 15_000, lifetime / 5);
    const delay = Math.max(1_000, lifetime - lead);
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      this.refresh(token.token).catch(() => {
        // Transient: try again in 15 s while the token still works.
        if (this.token === token && token.expiresAt - this.now() > 15_000) {
          this.refreshTimer = setTimeout(() => this.scheduleRefresh(), 15_000);
        }
      });
    }, delay);
  }

  private readStored(): StoredToken | null {
    try {
      const raw = this.deps.storage?.getItem(TOKEN_KEY);
      if (!raw) return null;
      const parsed = JSON.parse(raw) as Partial<StoredToken>;
      if (typeof parsed.token === "string" && typeof parsed.expiresAt === "number") {
        return { token: parsed.token, expiresAt: parsed.expiresAt };
      }
    } catch {
      /* ignore */
    }
    return null;
  }

  private askPeers(): Promise<StoredToken | null> {
    const channel = this.deps.channel;
    const wait = this.deps.peerWaitMs ?? 150;
    if (!channel || wait <= 0) return Promise.resolve(null);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.peerWaiters.delete(done);
        const token = this.token;
        resolve(token && token.expiresAt - this.now() > 30_000 ? token : null);
      };
      const timer = setTimeout(done, wait);
      this.peerWaiters.add(done);
      channel.postMessage({ type: "request" } satisfies SessionMessage);
    });
  }

  private onMessage(data: unknown): void {
    const message = data as SessionMessage | null;
    if (!message || typeof message !== "object") return;
    switch (message.type) {
      case "token": {
        if (typeof message.token !== "string" || typeof message.expiresAt !== "number") return;
        if (this.ended.has(message.token)) return;
        if (this.token && this.token.expiresAt >= message.expiresAt) return;
        const wasSignedOut = this.state.get().status === "signedOut";
        this.setToken({ token: message.token, expiresAt: message.expiresAt }, false);
        for (const waiter of [...this.peerWaiters]) waiter();
        if (wasSignedOut) void this.loadMe(); // another tab logged in
        return;
      }
      case "logout":
        if (this.state.get().status !== "signedOut") this.signOutLocal(undefined, true);
        return;
      case "request": {
        const token = this.token;
        if (token && token.expiresAt - this.now() > 60_000 && this.state.get().status === "signedIn") {
          this.deps.channel?.postMessage({ type: "token", ...token } satisfies SessionMessage);
        }
        return;
      }
    }
  }
}

function messageOf(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  return "Cannot reach Pulse. Check your connection and try again.";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
