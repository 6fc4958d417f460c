import { describe, expect, it, vi } from "vitest";
import { answer, ApiError, createApiClient } from "./http";

// openapi-fetch sends Request objects, which need an absolute URL outside a page.
const BASE = "http://pulse.test";

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === null ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

function sent(fetch: ReturnType<typeof vi.fn>, call = 0): Request {
  return (fetch.mock.calls[call] as [Request])[0];
}

describe("typed API client", () => {
  it("builds paths and query strings from the operation", async () => {
    const fetch = vi.fn(async () => json(200, {}));
    const api = createApiClient({ fetch, baseUrl: BASE });
    await answer(api.PATCH("/api/v1/admin/users/{user_id}", { params: { path: { user_id: "a b/c" } }, body: {} }));
    expect(sent(fetch, 0).url).toBe(`${BASE}/api/v1/admin/users/a%20b%2Fc`);
    await answer(
      api.GET("/api/v1/metrics", {
        params: {
          query: { name: "cpu", source: "web1", from: "2026-01-10T10:00:00+02:00", max_points: 800, to: null },
        },
      }),
    );
    expect(sent(fetch, 1).url).toBe(
      `${BASE}/api/v1/metrics?name=cpu&source=web1&from=2026-01-10T10%3A00%3A00%2B02%3A00&max_points=800`,
    );
  });

  it("sends the bearer token, JSON bodies, and parses answers", async () => {
    const fetch = vi.fn(async () => json(200, { id: "1", email: "a@b.c", role: "admin", disabled: false, created_at: "x", updated_at: "x" }));
    const api = createApiClient({ fetch, baseUrl: BASE, getToken: async () => "tok" });
    const user = await answer(
      api.PATCH("/api/v1/admin/users/{user_id}", { params: { path: { user_id: "1" } }, body: { disabled: true } }),
    );
    expect(user.email).toBe("a@b.c");
    const request = sent(fetch);
    expect(request.url).toBe(`${BASE}/api/v1/admin/users/1`);
    expect(request.method).toBe("PATCH");
    expect(await request.text()).toBe('{"disabled":true}');
    expect(request.headers.get("Content-Type")).toBe("application/json");
    expect(request.headers.get("Accept")).toBe("application/json");
    expect(request.headers.get("Authorization")).toBe("Bearer tok");
  });

  it("does not send a token to login, and shows the gateway's message", async () => {
    const fetch = vi.fn(async () =>
      json(401, { code: "invalid_credentials", message: "wrong email or password" }),
    );
    const getToken = vi.fn(async () => "tok");
    const api = createApiClient({ fetch, baseUrl: BASE, getToken });
    const error = await answer(api.POST("/api/v1/auth/login", { body: { email: "a@b.c", password: "x" } })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe("wrong email or password");
    expect((error as ApiError).code).toBe("invalid_credentials");
    expect(getToken).not.toHaveBeenCalled();
    expect(sent(fetch).headers.get("Authorization")).toBeNull();
  });

  it("turns 429 into 'Too many attempts, try again in N s' from Retry-After", async () => {
    const fetch = vi.fn(async () =>
      json(429, { code: "too_many_attempts", message: "locked" }, { "Retry-After": "30" }),
    );
    const api = createApiClient({ fetch, baseUrl: BASE });
    const error = (await answer(api.POST("/api/v1/auth/login", { body: { email: "a", password: "b" } })).catch(
      (e: unknown) => e,
    )) as ApiError;
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
    const api = createApiClient({ fetch, baseUrl: BASE, getToken: async () => "old", refreshToken });
    const me = await answer(api.GET("/api/v1/auth/me"));
    expect(me.role).toBe("user");
    expect(refreshToken).toHaveBeenCalledWith("old");
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(sent(fetch, 1).headers.get("Authorization")).toBe("Bearer fresh");
  });

  it("retries a request with a body with the same body", async () => {
    const fetch = vi
      .fn()
      .mockResolvedValueOnce(json(401, { code: "unauthorized", message: "expired" }))
      .mockResolvedValueOnce(json(200, { id: "1", email: "a@b.c", role: "user", disabled: true, created_at: "x", updated_at: "x" }));
    const api = createApiClient({ fetch, baseUrl: BASE, getToken: async () => "old", refreshToken: async () => "fresh" });
    await answer(api.PATCH("/api/v1/admin/users/{user_id}", { params: { path: { user_id: "1" } }, body: { disabled: true } }));
    expect(await sent(fetch, 1).text()).toBe('{"disabled":true}');
  });

  it("keeps the 401 when the session cannot be refreshed", async () => {
    const fetch = vi.fn(async () => json(401, { code: "unauthorized", message: "expired" }));
    const api = createApiClient({ fetch, baseUrl: BASE, getToken: async () => "old", refreshToken: async () => null });
    const error = (await answer(api.GET("/api/v1/auth/me")).catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(401);
    expect(error.code).toBe("unauthorized");
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("answers null for 204", async () => {
    const api = createApiClient({
      fetch: vi.fn(async () => new Response(null, { status: 204 })),
      baseUrl: BASE,
      getToken: async () => "t",
    });
    expect(await answer(api.POST("/api/v1/auth/logout", { body: {} }))).toBeNull();
  });

  it("says the gateway cannot be reached when the network fails, and lets an abort be one", async () => {
    const offline = createApiClient({ fetch: vi.fn(async () => Promise.reject(new TypeError("Failed to fetch"))), baseUrl: BASE });
    const error = (await answer(offline.GET("/api/v1/auth/me")).catch((e: unknown) => e)) as ApiError;
    expect(error.code).toBe("network");
    expect(error.status).toBe(0);
    const aborted = createApiClient({
      fetch: vi.fn(async () => Promise.reject(new DOMException("aborted", "AbortError"))),
      baseUrl: BASE,
    });
    const abort = await answer(aborted.POST("/api/v1/auth/login", { body: { email: "a", password: "b" } })).catch(
      (e: unknown) => e,
    );
    expect((abort as DOMException).name).toBe("AbortError");
  });

  it("names the status when the body is not the gateway's", async () => {
    const api = createApiClient({ fetch: vi.fn(async () => new Response("Bad Gateway", { status: 502 })), baseUrl: BASE });
    const error = (await answer(api.GET("/api/v1/metrics/catalog")).catch((e: unknown) => e)) as ApiError;
    expect(error.code).toBe("http_502");
    expect(error.message).toBe("The request failed (HTTP 502)");
  });
});
