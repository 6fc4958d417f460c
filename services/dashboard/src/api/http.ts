/**
 * A typed fetch helper keyed by the generated `Operations` map:
 *
 *   const history = await api("GET /api/v1/metrics", { query: { name: "cpu", from, max_points: 800 } });
 *
 * Path parameters, query, body and answer are checked against api.gen.ts. The access token
 * is attached to every route but login and refresh; a 401 refreshes it once and retries.
 * Errors become `ApiError` with the gateway's `message` (429: "Too many attempts, try again
 * in N s" from Retry-After).
 */
import type { ErrorBody, Operations } from "./api.gen";

export type OperationKey = keyof Operations;
type Op<K extends OperationKey> = Operations[K];

type Slot<T, Name extends string> = [T] extends [never]
  ? { [P in Name]?: never }
  : null extends T
    ? { [P in Name]?: T }
    : { [P in Name]: T };

export type RequestOf<K extends OperationKey> = Slot<Op<K>["path"], "path"> &
  Slot<Op<K>["query"], "query"> &
  Slot<Op<K>["body"], "body"> & { signal?: AbortSignal };

export type ResponseOf<K extends OperationKey> = Op<K>["response"];

export type ApiCall = <K extends OperationKey>(
  operation: K,
  ...args: {} extends RequestOf<K> ? [request?: RequestOf<K>] : [request: RequestOf<K>]
) => Promise<ResponseOf<K>>;

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
  fetch?: typeof fetch;
  baseUrl?: string;
  /** The access token to send (null: none). */
  getToken?: () => Promise<string | null>;
  /** A new access token after a 401 with `rejected`; null when the session is over. */
  refreshToken?: (rejected: string | null) => Promise<string | null>;
}

const PUBLIC: ReadonlySet<string> = new Set(["POST /api/v1/auth/login", "POST /api/v1/auth/refresh"]);

export function buildUrl(
  template: string,
  path: Record<string, string> | undefined,
  query: Record<string, string | number | boolean | null | undefined> | undefined,
): string {
  let url = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = path?.[name];
    if (value === undefined) throw new Error(`missing path parameter ${name} for ${template}`);
    return encodeURIComponent(value);
  });
  if (query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) params.append(name, String(value));
    }
    const text = params.toString();
    if (text) url += `?${text}`;
  }
  return url;
}

export function createApiClient(options: ClientOptions = {}): ApiCall {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const base = options.baseUrl ?? "";

  interface AnyRequest {
    path?: unknown;
    query?: unknown;
    body?: unknown;
    signal?: AbortSignal;
  }

  async function call(operation: string, request: AnyRequest = {}): Promise<unknown> {
    const space = operation.indexOf(" ");
    const method = operation.slice(0, space);
    const url =
      base +
      buildUrl(
        operation.slice(space + 1),
        request.path as Record<string, string> | undefined,
        request.query as Record<string, string | number | null | undefined> | undefined,
      );
    const needsAuth = !PUBLIC.has(operation);

    const send = async (token: string | null): Promise<Response> => {
      const headers: Record<string, string> = { Accept: "application/json" };
      if (token) headers.Authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (request.body !== undefined) {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(request.body);
      }
      try {
        return await doFetch(url, {
          method,
          headers,
          body,
          credentials: "same-origin",
          signal: request.signal,
        });
      } catch (error) {
        if (error instanceof DOMException && error.name === "AbortError") throw error;
        throw new ApiError(0, "network", "Cannot reach Pulse. Check your connection and try again.");
      }
    };

    const token = needsAuth && options.getToken ? await options.getToken() : null;
    let response = await send(token);
    if (response.status === 401 && needsAuth && options.refreshToken) {
      const fresh = await options.refreshToken(token);
      if (fresh) response = await send(fresh);
    }
    if (!response.ok) throw await toApiError(response);
    if (response.status === 204) return null;
    const text = await response.text();
    return text ? (JSON.parse(text) as unknown) : null;
  }

  return call as ApiCall;
}

export async function toApiError(response: Response): Promise<ApiError> {
  let body: Partial<ErrorBody> = {};
  try {
    body = (await response.json()) as Partial<ErrorBody>;
  } catch {
    /* not JSON */
  }
  const code = typeof body.code === "string" ? body.code : `http_${response.status}`;
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
    typeof body.message === "string" && body.message
      ? body.message
      : `The request failed (HTTP ${response.status})`;
  return new ApiError(response.status, code, message, body.parameter ?? null);
}

/** What to show a person for any error. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
