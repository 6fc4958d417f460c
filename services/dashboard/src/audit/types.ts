/**
 * The audit trail's REST shapes, routes and live frame, written by hand.
 *
 * TEMPORARY: the gateway's audit routes (branch views) were not in
 * docs/schemas/gateway.openapi.json when these pages were written, so `gateway.gen.ts` did not
 * have them. After the merge, `make types` generates them: replace the shapes below with
 * aliases of the generated names (`AccessPage`, `TraceStory`, … from "../api/gateway.gen"),
 * drop `auditApi`'s cast in ./api.ts (the generated `paths` will hold these routes) and
 * `AuditPaths` here. Every import of the audit pages goes through this one module.
 *
 * The shapes are pulse_contracts.audit's msgspec Structs as msgspec encodes them to JSON:
 * snake_case fields, datetimes as ISO 8601 text, bytes as base64, tagged Structs with their
 * `type` field (queries.py for the replies, records.py for the live records).
 */
import type { ErrorBody } from "../api/gateway.gen";

// -- records (records.py) ------------------------------------------------------------------

export const STEP_STATUSES = ["START", "IN_PROGRESS", "SUCCESS", "FAILED"] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

/** A JSON value as stored: already redacted and bounded; a body that was not the JSON sent
 * is a marker object (`{"$truncated": …}`, `{"$binary": …}`, `{"$text": …}`). */
export type JsonValue = unknown;

/** One HTTP request (or WebSocket session, `method` "WS") as published live. */
export interface AccessRecord {
  type: "access";
  /** 32 hex characters, unique per record. */
  key: string;
  trace_id: string;
  service: string;
  method: string;
  /** The route template; "" when no route matched. */
  route: string;
  /** The concrete path with its query string. */
  path: string;
  request_header: Record<string, string>;
  request_body?: JsonValue;
  response_status: number;
  response_body?: JsonValue;
  duration_ms: number;
  ip_address?: string | null;
  user_id?: string | null;
  created_at: string;
  frames_in?: number | null;
  frames_out?: number | null;
  close_code?: number | null;
}

/** One step of one run of a task, as published live. */
export interface TaskStep {
  type: "step";
  key: string;
  trace_id: string;
  service: string;
  task_id: string;
  task_name: string;
  step_name: string;
  status: StepStatus;
  input_data?: JsonValue;
  output_data?: JsonValue;
  error_message?: string | null;
  stack_trace?: string | null;
  execution_order: number;
  created_at: string;
}

export type LogRecord = AccessRecord | TaskStep;

// -- queries (queries.py) ------------------------------------------------------------------

export const MAX_PAGE = 200;
export const MAX_IDS = 500;
export const DEAD_LETTER_STATUSES = ["pending", "replayed", "discarded"] as const;
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUSES)[number];

export interface StoredAccess {
  id: number;
  trace_id: string;
  service: string;
  method: string;
  route: string;
  path: string;
  request_header: Record<string, string>;
  request_body: JsonValue;
  response_status: number;
  response_body: JsonValue;
  duration_ms: number;
  ip_address: string | null;
  user_id: string | null;
  created_at: string;
  frames_in?: number | null;
  frames_out?: number | null;
  close_code?: number | null;
}

export interface AccessPage {
  type: "access.page";
  items: StoredAccess[];
  next_cursor: string | null;
}

export interface StoredStep {
  id: number;
  trace_id: string;
  service: string;
  task_id: string;
  task_name: string;
  step_name: string;
  status: StepStatus;
  input_data: JsonValue;
  output_data: JsonValue;
  error_message: string | null;
  stack_trace: string | null;
  execution_order: number;
  created_at: string;
}

export interface TaskRun {
  task_id: string;
  task_name: string;
  service: string;
  trace_id: string;
  /** The run's latest status: SUCCESS/FAILED when it ended, else IN_PROGRESS. */
  status: StepStatus;
  steps: number;
  started_at: string;
  updated_at: string;
  error_message?: string | null;
}

export interface TaskPage {
  type: "tasks.page";
  items: TaskRun[];
  next_cursor: string | null;
}

export interface StoredDeadLetter {
  id: number;
  origin: string;
  reason: string;
  trace_id: string | null;
  status: DeadLetterStatus;
  received_at: string;
  size: number;
  /** The first bytes as text, undecodable bytes and control characters escaped. */
  preview: string;
  headers?: Record<string, string>;
  /** The raw bytes, base64 (only in the answer to show). */
  data?: string | null;
  replays?: number;
  replayed_at?: string | null;
  replayed_by?: string | null;
  discarded_at?: string | null;
  discarded_by?: string | null;
}

export interface DeadLetterPage {
  type: "deadletters.page";
  items: StoredDeadLetter[];
  next_cursor: string | null;
}

export interface DeadLetterShown {
  type: "deadletters.shown";
  letter: StoredDeadLetter;
}

export interface DeadLettersChanged {
  type: "deadletters.changed";
  changed: number[];
  /** Not pending (already replayed or discarded) or not found. */
  skipped: number[];
}

export type TraceItemKind = "access" | "step" | "dead_letter";

/** One record of a trace: exactly one of `access`, `step`, `dead_letter` is set. */
export interface TraceItem {
  at: string;
  kind: TraceItemKind;
  access?: StoredAccess | null;
  step?: StoredStep | null;
  dead_letter?: StoredDeadLetter | null;
}

export interface TraceStory {
  type: "trace.story";
  trace_id: string;
  /** In time order; at most 2000 (`truncated` then). */
  items: TraceItem[];
  truncated?: boolean;
}

// -- query parameters of the routes ----------------------------------------------------------

export interface AccessQuery {
  since?: string;
  until?: string;
  /** A code (404) or a class (4 for 4xx). */
  status?: number;
  method?: string;
  path?: string;
  user_id?: string;
  ip_address?: string;
  trace_id?: string;
  service?: string;
  cursor?: string;
  limit?: number;
}

export interface TasksQuery {
  since?: string;
  until?: string;
  task_name?: string;
  status?: StepStatus;
  cursor?: string;
  limit?: number;
}

export interface DeadLettersQuery {
  status?: DeadLetterStatus;
  origin?: string;
  trace_id?: string;
  cursor?: string;
  limit?: number;
}

export interface DeadLetterIds {
  ids: number[];
}

// -- the live `logs` channel -------------------------------------------------------------------

export const LOGS_CHANNEL = "logs";

/** One LogBatch's records as published (live.logs.<kind>.<service>), oldest first. */
export interface LogsFrame {
  type: string;
  channel: typeof LOGS_CHANNEL;
  seq?: number;
  records: LogRecord[];
}

// -- routes, in openapi-typescript's shape (so openapi-fetch checks the calls) --------------

type Json<T> = { headers: { [name: string]: unknown }; content: { "application/json": T } };
type Refusals = {
  400: Json<ErrorBody>;
  401: Json<ErrorBody>;
  403: Json<ErrorBody>;
  404: Json<ErrorBody>;
  503: Json<ErrorBody>;
};
type NoParameters = { query?: never; header?: never; path?: never; cookie?: never };
type Parameters<Path, Query> = { query?: Query; header?: never; path: Path; cookie?: never };
type QueryParameters<Query> = { query?: Query; header?: never; path?: never; cookie?: never };
type Get<P, A> = { parameters: P; requestBody?: never; responses: { 200: Json<A> } & Refusals };
type Post<B, A> = {
  parameters: NoParameters;
  requestBody: { content: { "application/json": B } };
  responses: { 200: Json<A> } & Refusals;
};
type Unused = { put?: never; delete?: never; options?: never; head?: never; patch?: never; trace?: never };

export interface AuditPaths {
  "/api/v1/admin/audit/access": {
    parameters: NoParameters;
    get: Get<QueryParameters<AccessQuery>, AccessPage>;
    post?: never;
  } & Unused;
  "/api/v1/admin/audit/tasks": {
    parameters: NoParameters;
    get: Get<QueryParameters<TasksQuery>, TaskPage>;
    post?: never;
  } & Unused;
  "/api/v1/admin/audit/traces/{trace_id}": {
    parameters: NoParameters;
    get: Get<Parameters<{ trace_id: string }, never>, TraceStory>;
    post?: never;
  } & Unused;
  "/api/v1/admin/audit/dead-letters": {
    parameters: NoParameters;
    get: Get<QueryParameters<DeadLettersQuery>, DeadLetterPage>;
    post?: never;
  } & Unused;
  "/api/v1/admin/audit/dead-letters/{letter_id}": {
    parameters: NoParameters;
    get: Get<Parameters<{ letter_id: number }, never>, DeadLetterShown>;
    post?: never;
  } & Unused;
  "/api/v1/admin/audit/dead-letters/replay": {
    parameters: NoParameters;
    get?: never;
    post: Post<DeadLetterIds, DeadLettersChanged>;
  } & Unused;
  "/api/v1/admin/audit/dead-letters/discard": {
    parameters: NoParameters;
    get?: never;
    post: Post<DeadLetterIds, DeadLettersChanged>;
  } & Unused;
}
