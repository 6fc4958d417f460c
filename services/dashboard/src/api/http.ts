/**
 * The gateway's REST API: openapi-fetch's client, typed by `paths` from gateway.gen.ts (which
 * openapi-typescript generates from the gateway's OpenAPI document), and `answer` to get what
 * a call answered or throw why not:
 *
 *   const history = await answer(api.GET("/api/v1/metrics", { params: { query: { name: "cpu", from, max_points: 800 } } }));
 *
 * Paths, parameters, bodies and answers are checked against the document. The access token
 * is attached to every route but login and refresh; a 401 refreshes it once and retries.
 * Errors become `ApiError` with the gateway's `message` (429: "Too many attempts, try again
 * in N s" from Retry-After).
 */
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { ErrorBody, paths } from "./gateway.gen";

export type ApiClient = Client<paths, "application/json">;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly parameter: string | null = null,
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface ClientOptions {
  fetch?: (request: Request) => Promise<Response>;
  /** Where the gateway is; "" (the default): the page's own origin. */
  baseUrl?: string;
  /** The access token to send (null: none). */
  getToken?: () => Promise<string | null>;
  /** A new access token after a 401 with `rejected`; null when the session is over. */
  refreshToken?: (rejected: string | null) => Promise<string | null>;
}

/** The routes that take no access token (`METHOD /path` as the document names them). */
const PUBLIC: ReadonlySet<string> = new Set(["POST /api/v1/auth/login", "POST /api/v1/auth/refresh"]);

export function createApiClient(options: ClientOptions = {}): ApiClient {
  const doFetch = options.fetch ?? ((request: Request) => fetch(request));
  const send = async (request: Request): Promise<Response> => {
    try {
      return await doFetch(request);
    } catch (error) {
      if (error instanceof DOMException && error.name === "AbortError") throw error;
      throw new ApiError(0, "network", "Cannot reach Pulse. Check your connection and try again.");
    }
  };
  const client = createClient<paths, "application/json">({
    baseUrl: options.baseUrl ?? "",
    fetch: send,
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
  client.use(accessToken(send, options));
  return client;
}

/** Sends every request but the public ones itself: with the access token, and after a 401
 * once more with a refreshed one. */
function accessToken(send: (request: Request) => Promise<Response>, options: ClientOptions): Middleware {
  const withToken = (request: Request, token: string | null): Request => {
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    return request;
  };
  return {
    async onRequest({ request, schemaPath }) {
      if (PUBLIC.has(`${request.method} ${schemaPath}`)) return undefined;
      const again = options.refreshToken ? request.clone() : null;
      const token = options.getToken ? await options.getToken() : null;
      const response = await send(withToken(request, token));
      if (response.status !== 401 || !again || !options.refreshToken) return response;
      const fresh = await options.refreshToken(token);
      return fresh ? send(withToken(again, fresh)) : response;
    },
  };
}

/** A call's answer: null for a route that answers no body (openapi-fetch says undefined). */
export type Answer<T> = undefined extends T ? Exclude<T, undefined> | null : T;

/** What a call answered, or an ApiError when it was refused. */
export async function answer<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<Answer<T>> {
  const { data, error, response } = await call;
  if (!response.ok) throw toApiError(response, error);
  return (data ?? null) as Answer<T>;
}

/** The error of a refused call, from its status, its headers and its body (`ErrorBody` when
 * the gateway answered it, anything else when something in between did). */
export function toApiError(response: Response, body: unknown): ApiError {
  const fields: Partial<ErrorBody> = typeof body === "object" && body !== null ? (body as Partial<ErrorBody>) : {};
  const code = typeof fields.code === "string" ? fields.code : `http_${response.status}`;
  if (response.status === 429) {
    const header = response.headers.get("Retry-After");
    const seconds = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : null;
    const message =
      seconds !== null
        ? `Too many attempts, try again in ${seconds} s`
        : "Too many attempts, try again later";
    return new ApiError(429, code, message, null, seconds);
  }
  const message =
    typeof fields.message === "string" && fields.message
      ? fields.message
      : `The request failed (HTTP ${response.status})`;
  return new ApiError(response.status, code, message, fields.parameter ?? null);
}

/** What to show a person for any error. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
