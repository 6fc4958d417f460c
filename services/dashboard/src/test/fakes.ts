/** Test doubles for the live layer (not part of the bundle). */
import type { ClientFrame, ServerFrame } from "../api/gateway.gen";
import type { TokenSource, WebSocketLike } from "../live/socket";
import type { StorageLike } from "../live/snapshot";

export class FakeWebSocket implements WebSocketLike {
  static created: FakeWebSocket[] = [];
  readyState = 0;
  readonly sent: string[] = [];
  closedWith: number | null = null;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason?: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(readonly url: string) {
    FakeWebSocket.created.push(this);
  }

  static reset(): void {
    FakeWebSocket.created = [];
  }

  static last(): FakeWebSocket {
    const socket = FakeWebSocket.created[FakeWebSocket.created.length - 1];
    if (!socket) throw new Error("no socket was created");
    return socket;
  }

  send(data: string): void {
    this.sent.push(data);
  }

  close(code?: number): void {
    this.readyState = 3;
    this.closedWith = code ?? 1000;
  }

  // -- what the "gateway" does -------------------------------------------------------------

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(frame: ServerFrame): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  ready(expiresInS = 900, heartbeatS = 20): void {
    this.receive({
      type: "ready",
      user: "ada@example.com",
      role: "user",
      heartbeat_s: heartbeatS,
      expires_at: new Date(Date.now() + expiresInS * 1000).toISOString(),
    });
  }

  serverClose(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }

  frames(): ClientFrame[] {
    return this.sent.map((text) => JSON.parse(text) as ClientFrame);
  }

  framesOf<T extends ClientFrame["type"]>(type: T): Array<Extract<ClientFrame, { type: T }>> {
    return this.frames().filter((f): f is Extract<ClientFrame, { type: T }> => f.type === type);
  }
}

export interface FakeTokens extends TokenSource {
  token: string;
  refreshCalls: number;
  /** What the next refresh returns (null: the session is over). */
  nextRefresh: string | null;
  /** Another part of the app obtained a new token. */
  emit(token: string): void;
}

export function fakeTokens(initial = "t1"): FakeTokens {
  const listeners = new Set<(token: string) => void>();
  const tokens: FakeTokens = {
    token: initial,
    refreshCalls: 0,
    nextRefresh: "t2",
    current: async () => tokens.token,
    refresh: async () => {
      tokens.refreshCalls++;
      const next = tokens.nextRefresh;
      if (next !== null) tokens.emit(next);
      return next;
    },
    onToken: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit: (token) => {
      tokens.token = token;
      for (const listener of [...listeners]) listener(token);
    },
  };
  return tokens;
}

export class MemoryStorage implements StorageLike {
  readonly items = new Map<string, string>();
  quota = Infinity;

  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }

  setItem(key: string, value: string): void {
    if (value.length > this.quota) throw new Error("QuotaExceededError");
    this.items.set(key, value);
  }

  removeItem(key: string): void {
    this.items.delete(key);
  }
}
