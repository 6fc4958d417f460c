import { describe, expect, it, vi } from "vitest";
import { ApiError, buildUrl, createApiClient } from "./http";

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === null ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

describe("typed API client", () => {
  it("builds paths and query strings from the operation", () => {
    expect(buildUrl("/api/v1/admin/users/{user_id}", { user_id: "a b/c" }, undefined)).toBe(
      "/api/v1/admin/users/a%20b%2Fc",
    );
    expect(
      buildUrl("/api/v1/metrics", undefined, {
        name: "cpu",
        source: "web1",
        from: "2026-01-10T10:00:00+02:00",
        max_points: 800,
        to: null,
      }),
    ).toBe("/api/v1/metrics?name=cpu&source=web1&from=2026-01-10T10%3A00%3A00%2B02%3A00&max_points=800");
  });

  it("sends the bearer token, JSON bodies, and parses answers", async () => {
    const fetch = vi.fn(async () => json(200, { id: "1", email: "a@b.c", role: "admin", disabled: false, created_at: "x", updated_at: "x" }));
    const api = createApiClient({ fetch, getToken: async () => "tok" });
    const user = await api("PATCH /api/v1/admin/users/{user_id}", { path: { user_id: "1" }, body: { disabled: true } });
    expect(user.email).toBe("a@b.c");
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe("/api/v1/admin/users/1");
    expect(init.method).toBe("PATCH");
    expect(init.body).toBe('{"disabled":true}');
    expect((init.headers as Record<string, string>).Authorization).toBe("Bearer tok");
  });

  it("does not send a token to login, and shows the gateway's message", async () => {
    const fetch = vi.fn(async () =>
      json(401, { code: "invalid_credentials", message: "wrong email or password" }),
    );
    const getToken = vi.fn(async () => "tok");
    const api = createApiClient({ fetch, getToken });
    const error = await api("POST /api/v1/auth/login", { body: { email: "a@b.c", password: "x" } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe("wrong email or password");
    expect((error as ApiError).code).toBe("invalid_credentials");
    expect(getToken).not.toHaveBeenCalled();
  });

  it("turns 429 into 'Too many attempts, try again in N s' from Retry-After", async () => {
    const fetch = vi.fn(async () =>
      json(429, { code: "too_many_attempts", message: "locked" }, { "Retry-After": "30" }),
    );
    const api = createApiClient({ fetch });
    const error = (await api("POST /api/v1/auth/login", { body: { email: "a", password: "b" } }).catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(429);
    expect(error.message).toBe("Too many attempts, try again in 30 s");
    expect(error.retryAfterS).toBe(30);
  });

  it("refreshes once on a 401 and retries with the new token", async () => {
    const fetch = vi
      .fn()
      .mockResolvedValueOnce(json(401, { code: "unauthorized", message: "expired" }))
      .mockResolvedValueOnce(json(200, { id: "1", email: "a@b.c", role: "user" }));
    const refreshToken = vi.fn(async () => "fresh");
    const api = createApiClient({ fetch, getToken: async () => "old", refreshToken });
    const me = await api("GET /api/v1/auth/me");
    expect(me.role).toBe("user");
    expect(refreshToken).toHaveBeenCalledWith("old");
    const second = fetch.mock.calls[1] as unknown as [string, RequestInit];
    expect((second[1].headers as Record<string, string>).Authorization).toBe("Bearer fresh");
  });

  it("answers null for 204", async () => {
    const api = createApiClient({ fetch: vi.fn(async () => new Response(null, { status: 204 })), getToken: async () => "t" });
    expect(await api("POST /api/v1/auth/logout", { body: {} })).toBeNull();
  });
});
