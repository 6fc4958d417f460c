/**
 * The audit pages' filters and the URL: each page keeps its filters in the hash's query
 * (`#/admin/logs?status=5xx&method=POST`), so a reload or a shared link shows the same
 * search, and turns them into the API's query parameters (checked first: a status that is not
 * a code or a class, or a trace id that is not one, is the person's mistake to fix, not a
 * request to send).
 */
import {
  DEAD_LETTER_STATUSES,
  STEP_STATUSES,
  type AccessQuery,
  type DeadLetterStatus,
  type DeadLettersQuery,
  type StepStatus,
  type TasksQuery,
} from "./types";

// -- time ranges -----------------------------------------------------------------------------

export const RANGE_CHOICES = [
  { id: "15m", label: "Last 15 min", ms: 15 * 60_000 },
  { id: "1h", label: "Last hour", ms: 3_600_000 },
  { id: "24h", label: "Last 24 h", ms: 86_400_000 },
  { id: "7d", label: "Last 7 days", ms: 7 * 86_400_000 },
  { id: "all", label: "Any time", ms: null },
  { id: "custom", label: "Between…", ms: null },
] as const;
export type RangeId = (typeof RANGE_CHOICES)[number]["id"];

/** A preset (the last N, counted back from when the search runs), or custom (epoch ms; either
 * end may be open). */
export type TimeRange = { id: Exclude<RangeId, "custom"> } | { id: "custom"; from: number | null; to: number | null };

export const DEFAULT_RANGE: TimeRange = { id: "24h" };

/** At most this many characters of a text filter are kept (the API's limit). */
const MAX_TEXT = 500;

function text(params: URLSearchParams, key: string): string {
  return (params.get(key) ?? "").trim().slice(0, MAX_TEXT);
}

function epochMs(value: string | null): number | null {
  if (value === null || value.trim() === "") return null;
  const ms = Number(value);
  return Number.isFinite(ms) && ms > 0 ? Math.round(ms) : null;
}

export function parseRange(params: URLSearchParams): TimeRange {
  const id = params.get("range");
  const choice = RANGE_CHOICES.find((r) => r.id === id);
  if (!choice) return DEFAULT_RANGE;
  if (choice.id !== "custom") return { id: choice.id };
  const from = epochMs(params.get("from"));
  const to = epochMs(params.get("to"));
  if (from === null && to === null) return DEFAULT_RANGE;
  if (from !== null && to !== null && from >= to) return DEFAULT_RANGE;
  return { id: "custom", from, to };
}

function putRange(params: URLSearchParams, range: TimeRange): void {
  if (range.id === DEFAULT_RANGE.id) return;
  params.set("range", range.id);
  if (range.id === "custom") {
    if (range.from !== null) params.set("from", String(range.from));
    if (range.to !== null) params.set("to", String(range.to));
  }
}

/** `since`/`until` of a range as ISO text, a preset counted back from `now`. */
export function rangeBounds(range: TimeRange, now: number): { since?: string; until?: string } {
  if (range.id === "custom") {
    return {
      ...(range.from !== null ? { since: new Date(range.from).toISOString() } : {}),
      ...(range.to !== null ? { until: new Date(range.to).toISOString() } : {}),
    };
  }
  const choice = RANGE_CHOICES.find((r) => r.id === range.id);
  return choice?.ms ? { since: new Date(now - choice.ms).toISOString() } : {};
}

// -- checks shared by the pages --------------------------------------------------------------

/** A status filter: a code ("404") or a class ("4xx", "4") → the API's number; "" → none;
 * anything else → null (refused). */
export function parseStatus(value: string): number | undefined | null {
  const v = value.trim().toLowerCase();
  if (v === "") return undefined;
  const klass = /^([1-5])(xx)?$/.exec(v);
  if (klass) return Number(klass[1]);
  if (/^[1-5]\d\d$/.test(v)) return Number(v);
  return null;
}

/** A trace id: 32 hex digits (any case), or a whole `traceparent` header, whose trace id is
 * taken; "" → none; anything else → null (refused). */
export function parseTraceId(value: string): string | undefined | null {
  const v = value.trim().toLowerCase();
  if (v === "") return undefined;
  if (/^[0-9a-f]{32}$/.test(v)) return v;
  const header = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(v);
  return header ? header[1]! : null;
}

export type FilterErrors<K extends string> = Partial<Record<K, string>>;

export const STATUS_ERROR = "A status code (404) or a class (4xx).";
export const TRACE_ERROR = "32 hexadecimal digits, or a whole traceparent header.";

// -- the access log --------------------------------------------------------------------------

export const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "WS"] as const;

export interface AccessFilters {
  range: TimeRange;
  /** As typed: a code or a class (checked by `accessQuery`). */
  status: string;
  method: string;
  path: string;
  user: string;
  ip: string;
  trace: string;
  service: string;
}

export const NO_ACCESS_FILTERS: AccessFilters = {
  range: DEFAULT_RANGE,
  status: "",
  method: "",
  path: "",
  user: "",
  ip: "",
  trace: "",
  service: "",
};

const ACCESS_TEXT = ["status", "method", "path", "user", "ip", "trace", "service"] as const;

export function parseAccessFilters(query: string): AccessFilters {
  const params = new URLSearchParams(query);
  const filters: AccessFilters = { ...NO_ACCESS_FILTERS, range: parseRange(params) };
  for (const key of ACCESS_TEXT) filters[key] = text(params, key);
  filters.method = filters.method.toUpperCase();
  return filters;
}

/** The URL query of the filters (without "?"): only what differs from the defaults. */
export function accessFiltersQuery(filters: AccessFilters): string {
  const params = new URLSearchParams();
  putRange(params, filters.range);
  for (const key of ACCESS_TEXT) {
    const value = filters[key].trim();
    if (value) params.set(key, value);
  }
  return params.toString();
}

export type AccessFilterErrors = FilterErrors<"status" | "trace">;

/** The API's query for the filters, or what is wrong with them. */
export function accessQuery(
  filters: AccessFilters,
  now: number,
): { query: AccessQuery; errors: null } | { query: null; errors: AccessFilterErrors } {
  const errors: AccessFilterErrors = {};
  const status = parseStatus(filters.status);
  if (status === null) errors.status = STATUS_ERROR;
  const traceId = parseTraceId(filters.trace);
  if (traceId === null) errors.trace = TRACE_ERROR;
  if (status === null || traceId === null) return { query: null, errors };
  const query: AccessQuery = { ...rangeBounds(filters.range, now) };
  if (status !== undefined) query.status = status;
  if (traceId !== undefined) query.trace_id = traceId;
  if (filters.method.trim()) query.method = filters.method.trim().toUpperCase();
  if (filters.path.trim()) query.path = filters.path.trim();
  if (filters.user.trim()) query.user_id = filters.user.trim();
  if (filters.ip.trim()) query.ip_address = filters.ip.trim();
  if (filters.service.trim()) query.service = filters.service.trim();
  return { query, errors: null };
}

// -- task runs ---------------------------------------------------------------------------------

export interface TaskFilters {
  range: TimeRange;
  task: string;
  outcome: StepStatus | "";
}

export const NO_TASK_FILTERS: TaskFilters = { range: DEFAULT_RANGE, task: "", outcome: "" };

export function parseTaskFilters(query: string): TaskFilters {
  const params = new URLSearchParams(query);
  const outcome = params.get("outcome");
  return {
    range: parseRange(params),
    task: text(params, "task"),
    outcome: STEP_STATUSES.find((s) => s === outcome) ?? "",
  };
}

export function taskFiltersQuery(filters: TaskFilters): string {
  const params = new URLSearchParams();
  params.set("tab", "tasks");
  putRange(params, filters.range);
  if (filters.task.trim()) params.set("task", filters.task.trim());
  if (filters.outcome) params.set("outcome", filters.outcome);
  return params.toString();
}

export function tasksQuery(filters: TaskFilters, now: number): TasksQuery {
  const query: TasksQuery = { ...rangeBounds(filters.range, now) };
  if (filters.task.trim()) query.task_name = filters.task.trim();
  if (filters.outcome) query.status = filters.outcome;
  return query;
}

// -- dead letters ------------------------------------------------------------------------------

export interface DeadLetterFilters {
  /** "" is every status. */
  status: DeadLetterStatus | "";
  origin: string;
  trace: string;
}

/** The queue opens on what is waiting for a decision. */
export const DEFAULT_DEAD_LETTER_FILTERS: DeadLetterFilters = { status: "pending", origin: "", trace: "" };

export function parseDeadLetterFilters(query: string): DeadLetterFilters {
  const params = new URLSearchParams(query);
  const status = params.get("status");
  return {
    status: status === "any" ? "" : (DEAD_LETTER_STATUSES.find((s) => s === status) ?? "pending"),
    origin: text(params, "origin"),
    trace: text(params, "trace"),
  };
}

export function deadLetterFiltersQuery(filters: DeadLetterFilters): string {
  const params = new URLSearchParams();
  if (filters.status !== "pending") params.set("status", filters.status || "any");
  if (filters.origin.trim()) params.set("origin", filters.origin.trim());
  if (filters.trace.trim()) params.set("trace", filters.trace.trim());
  return params.toString();
}

export function deadLettersQuery(
  filters: DeadLetterFilters,
): { query: DeadLettersQuery; errors: null } | { query: null; errors: FilterErrors<"trace"> } {
  const traceId = parseTraceId(filters.trace);
  if (traceId === null) return { query: null, errors: { trace: TRACE_ERROR } };
  const query: DeadLettersQuery = {};
  if (filters.status) query.status = filters.status;
  if (filters.origin.trim()) query.origin = filters.origin.trim();
  if (traceId !== undefined) query.trace_id = traceId;
  return { query, errors: null };
}

// -- links ---------------------------------------------------------------------------------------

export function logsHref(filters: Partial<AccessFilters> = {}): string {
  const query = accessFiltersQuery({ ...NO_ACCESS_FILTERS, ...filters });
  return query ? `#/admin/logs?${query}` : "#/admin/logs";
}

export function tasksHref(filters: Partial<TaskFilters> = {}): string {
  return `#/admin/logs?${taskFiltersQuery({ ...NO_TASK_FILTERS, ...filters })}`;
}

export function traceHref(traceId: string): string {
  return `#/traces/${encodeURIComponent(traceId)}`;
}

export function deadLettersHref(filters: Partial<DeadLetterFilters> = {}): string {
  const query = deadLetterFiltersQuery({ ...DEFAULT_DEAD_LETTER_FILTERS, ...filters });
  return query ? `#/admin/dead-letters?${query}` : "#/admin/dead-letters";
}
