/**
 * The audit trail's REST shapes and live frame under the names the pages use: aliases of the
 * generated ones (`make types`: gateway.gen.ts from the gateway's OpenAPI document), so the
 * app's one API client checks every call, body and answer against the gateway. Every import
 * of the audit pages goes through this one module.
 *
 * The shapes are pulse_contracts.audit's msgspec Structs as msgspec encodes them to JSON:
 * snake_case fields, datetimes as ISO 8601 text, bytes as base64, tagged Structs with their
 * `type` field (queries.py for the replies, records.py for the live records).
 */
import type {
  AccessPage,
  AccessRecord,
  DeadLetterIds,
  DeadLetterPage,
  DeadLetterShown,
  DeadLettersChanged,
  LogsFrame,
  operations,
  StoredAccess,
  StoredDeadLetter,
  StoredStep,
  TaskPage,
  TaskRun,
  TaskStep,
  TraceItem,
  TraceStory,
} from "../api/gateway.gen";

export type {
  AccessPage,
  AccessRecord,
  DeadLetterIds,
  DeadLetterPage,
  DeadLetterShown,
  DeadLettersChanged,
  LogsFrame,
  StoredAccess,
  StoredDeadLetter,
  StoredStep,
  TaskPage,
  TaskRun,
  TaskStep,
  TraceItem,
  TraceStory,
};

export const STEP_STATUSES = ["START", "IN_PROGRESS", "SUCCESS", "FAILED"] as const satisfies ReadonlyArray<
  StoredStep["status"]
>;
export type StepStatus = StoredStep["status"];
export type LogRecord = AccessRecord | TaskStep;
export type TraceItemKind = TraceItem["kind"];

export const MAX_PAGE = 200;
/** At most this many dead letters replayed or discarded by one request. */
export const MAX_IDS = 500;
export const DEAD_LETTER_STATUSES = ["pending", "replayed", "discarded"] as const satisfies ReadonlyArray<
  StoredDeadLetter["status"]
>;
export type DeadLetterStatus = StoredDeadLetter["status"];

export const LOGS_CHANNEL = "logs";

// -- query parameters of the routes: the parts the pages send (checked against the document) --

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

type QueryOf<Operation extends keyof operations> = NonNullable<operations[Operation]["parameters"]["query"]>;
type Fits<Sent extends Taken, Taken> = Sent;
/** A parameter of another type than the route takes fails the type check here. */
export type QueriesFit = [
  Fits<AccessQuery, QueryOf<"ApiV1AdminAuditAccessSearchAccess">>,
  Fits<TasksQuery, QueryOf<"ApiV1AdminAuditTasksSearchTasks">>,
  Fits<DeadLettersQuery, QueryOf<"ApiV1AdminAuditDeadLettersListDeadLetters">>,
];
