import { describe, expect, it, vi } from "vitest";
import type { Me, TokenResponse } from "../api/gateway.gen";
import { ApiError } from "../api/http";
import { MemoryStorage } from "../test/fakes";
import { Session, TOKEN_KEY, type LockManagerLike, type MessageChannelLike, type SessionDeps } from "./session";

/** The gateway's refresh: rotating tokens; presenting a spent one revokes the chain. */
class FakeAuthServer {
  cookie = "rt_0";
  spent = new Set<string>();
  revoked = false;
  calls = 0;
  private n = 0;

  async refresh(): Promise<TokenResponse> {
    this.calls++;
    const presented = this.cookie;
    await new Promise((resolve) => setTimeout(resolve, 5)); // the round trip
    if (this.revoked || this.spent.has(presented)) {
      this.revoked = true;
      throw new ApiError(401, "refresh_token_reused", "log in again");
    }
    this.spent.add(presented);
    this.n++;
    this.cookie = `rt_${this.n}`;
    return { access_token: `at_${this.n}`, expires_in: 900, refresh_token: this.cookie };
  }
}

/** navigator.locks: one holder at a time, in request order. */
function fakeLocks(): LockManagerLike {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    request<T>(_name: string, callback: () => Promise<T>): Promise<T> {
      const run = tail.then(() => callback());
      tail = run.catch(() => undefined);
      return run;
    },
  };
}

/** BroadcastChannel between tabs: asynchronous delivery to every other member. */
class Bus {
  private members: Array<Array<(event: { data: unknown }) => void>> = [];
  join(): MessageChannelLike {
    const listeners: Array<(event: { data: unknown }) => void> = [];
    this.members.push(listeners);
    return {
      postMessage: (message) => {
        for (const other of this.members) {
          if (other === listeners) continue;
          setTimeout(() => other.forEach((l) => l({ data: structuredClone(message) })), 0);
        }
      },
      addEventListener: (_type, listener) => listeners.push(listener),
    };
  }
}

const me: Me = { id: "u1", email: "ada@example.com", role: "admin" };

function tab(server: FakeAuthServer, locks: LockManagerLike | null, bus: Bus, storage = new MemoryStorage()): Session {
  const deps: SessionDeps = {
    login: vi.fn(),
    refresh: () => server.refresh(),
    logout: vi.fn(async () => null),
    me: async () => me,
    storage,
    locks,
    channel: bus.join(),
    settleMs: 10,
    peerWaitMs: 20,
  };
  return new Session(deps);
}

describe("Session token refresh across tabs", () => {
  it("serialises refreshes with the lock and reuses the token another tab just got", async () => {
    const server = new FakeAuthServer();
    const locks = fakeLocks();
    const bus = new Bus();
    const a = tab(server, locks, bus);
    const b = tab(server, locks, bus);
    // Both tabs find their token expired at the same moment.
    const [ta, tb] = await Promise.all([a.refresh(null), b.refresh(null)]);
    expect(server.calls).toBe(1);
    expect(server.revoked).toBe(false);
    expect(ta).toBe("at_1");
    expect(tb).toBe("at_1");
    expect(b.peekToken()?.token).toBe("at_1");
  });

  it("without the lock, concurrent refreshes reuse a spent token (why the lock matters)", async () => {
    const server = new FakeAuthServer();
    const bus = new Bus();
    const a = tab(server, null, bus);
    const b = tab(server, null, bus);
    const results = await Promise.allSettled([a.refresh(null), b.refresh(null)]);
    expect(server.calls).toBe(2);
    expect(server.revoked).toBe(true);
    expect(results.map((r) => r.status === "fulfilled" && r.value)).toContain(null);
  });

  it("keeps the token in sessionStorage so a reload needs no refresh", async () => {
    const server = new FakeAuthServer();
    const storage = new MemoryStorage();
    const first = tab(server, fakeLocks(), new Bus(), storage);
    await first.init(); // no stored token, no peer: refresh with the cookie
    expect(server.calls).toBe(1);
    expect(first.state.get()).toEqual({ status: "signedIn", me });
    expect(JSON.parse(storage.getItem(TOKEN_KEY)!).token).toBe("at_1");

    const reloaded = tab(server, fakeLocks(), new Bus(), storage);
    await reloaded.init();
    expect(server.calls).toBe(1);
    expect(await reloaded.getToken()).toBe("at_1");
  });

  it("lets a new tab borrow the token of an open tab instead of refreshing", async () => {
    const server = new FakeAuthServer();
    const bus = new Bus();
    const first = tab(server, fakeLocks(), bus);
    await first.init();
    const second = tab(server, fakeLocks(), bus);
    await second.init();
    expect(server.calls).toBe(1);
    expect(second.state.get()).toEqual({ status: "signedIn", me });
    expect(await second.getToken()).toBe("at_1");
  });

  it("signs out when the refresh token is refused, and on another tab's logout", async () => {
    const server = new FakeAuthServer();
    server.revoked = true;
    const bus = new Bus();
    const a = tab(server, fakeLocks(), bus);
    await a.init();
    expect(a.state.get()).toEqual({ status: "signedOut" });

    const ok = new FakeAuthServer();
    const b = tab(ok, fakeLocks(), bus);
    const c = tab(ok, fakeLocks(), bus);
    await b.init();
    await c.init();
    expect(c.state.get().status).toBe("signedIn");
    await b.logout();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(c.state.get()).toEqual({ status: "signedOut", loggedOut: true });
    expect(b.state.get()).toEqual({ status: "signedOut", loggedOut: true });
    expect(c.peekToken()).toBeNull();
  });

  it("notifies token listeners (the socket re-sends auth) on every new token", async () => {
    const server = new FakeAuthServer();
    const a = tab(server, fakeLocks(), new Bus());
    const seen: string[] = [];
    a.onToken((token) => seen.push(token));
    await a.refresh(null);
    await a.refresh();
    expect(seen).toEqual(["at_1", "at_2"]);
  });
});
