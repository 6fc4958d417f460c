/**
 * The notifications' and alert rules' REST shapes, routes and socket frame, written by hand.
 *
 * TEMPORARY: the gateway's /api/v1/notifications and /api/v1/alerts/rules routes and the
 * `notification` frame were not in docs/schemas/gateway.openapi.json when these pages were
 * written, so `gateway.gen.ts` did not have them. After the merge, `make types` generates them:
 * replace the shapes below with aliases of the generated names, drop the casts in ./api.ts
 * (the generated `paths` will hold these routes) and the `NotificationFrame` member of
 * `LiveFrame` (../live/eventChannels.ts). Everything that depends on the exact wire shapes is
 * in this file, so a shape that moved at the merge is adapted here only. The shapes follow
 * pulse_contracts.notifications (inbox.py) and the gateway's API as agreed for issue 15.
 */
import type { ErrorBody } from "../api/gateway.gen";

// -- notifications ------------------------------------------------------------------------

export const KINDS = ["info", "success", "warning", "error"] as const;
export type Kind = (typeof KINDS)[number];
export type Source = "admin" | "rule" | "system";
export const LINK_KINDS = ["series", "class", "student", "trace"] as const;
export type LinkKind = (typeof LINK_KINDS)[number];
/** `all`: every one not archived; `archived`: archived ones only. */
export const INBOX_STATES = ["unread", "read", "archived", "all"] as const;
export type InboxState = (typeof INBOX_STATES)[number];
export type MarkChange = "read" | "unread" | "seen" | "archived";
export type ChangeKind = "created" | MarkChange;
export const ROLES = ["admin", "instructor", "user", "student"] as const;
export type Role = (typeof ROLES)[number];

/** What a notification points at: `series` `<source>:<metric>`, `class` `<class_id>`,
 * `student` `<class_id>:<student_id>`, `trace` `<trace id>`. */
export interface Link {
  kind: LinkKind;
  target: string;
}

export interface Notification {
  id: number;
  recipient: string;
  kind: Kind;
  title: string;
  body: string;
  link: Link | null;
  source: Source;
  created_at: string;
  read_at: string | null;
  seen_at: string | null;
  archived_at: string | null;
}

export interface NotificationPage {
  items: Notification[];
  /** `before_id` of the next (older) page; null on the last. */
  next_before_id: number | null;
  unread: number;
  version: number;
}

/** An unread count and the inbox version it is of (the highest version wins). */
export interface InboxCount {
  unread: number;
  version: number;
}

export interface MarkAnswer extends InboxCount {
  changed: number[];
}

export interface MarkRequest {
  change: MarkChange;
  ids?: number[];
  all?: boolean;
}

export interface Recipients {
  users?: string[];
  roles?: Role[];
  everyone?: boolean;
}

export interface NewNotification {
  recipients: Recipients;
  kind: Kind;
  title: string;
  body?: string;
  link?: Link | null;
}

export interface CreatedNotifications {
  recipients: number;
  ids: number[];
}

/** The socket's frame on the `notifications` channel: one change of the user's inbox. */
export interface NotificationFrame {
  type: "notification";
  channel: string;
  seq: number;
  change: ChangeKind;
  unread: number;
  version: number;
  notification?: Notification | null;
  ids?: number[];
}

export const NOTIFICATIONS_CHANNEL = "notifications";

/** The contracts' limits (pulse_contracts.notifications.inbox). */
export const MAX_TITLE_CHARS = 200;
export const MAX_BODY_CHARS = 4000;
export const PAGE_SIZE = 50;

// -- alert rules ---------------------------------------------------------------------------

export const SEVERITIES = ["info", "warning", "error"] as const;
export type Severity = (typeof SEVERITIES)[number];
export type Op = "above" | "below";

export type Condition =
  | { type: "threshold"; metric: string; source?: string | null; op: Op; value: number; for_s: number }
  | { type: "no_data"; metric: string; source?: string | null; for_s: number }
  | { type: "rate"; metric: string; source?: string | null; op: Op; per_s: number; for_s: number }
  | { type: "cell_errors"; class_id: string; errors: number }
  | { type: "student_idle"; class_id: string; minutes: number }
  | { type: "class_behind"; class_id: string; cells: number };
export type ConditionType = Condition["type"];

export interface RuleRecipients {
  users?: string[];
  roles?: Role[];
}

export interface RuleBody {
  name: string;
  condition: Condition;
  severity: Severity;
  recipients: RuleRecipients;
  enabled: boolean;
}

export interface Rule extends RuleBody {
  id: number | string;
  owner_id: string;
  created_at: string;
  updated_at: string;
}

export interface RuleList {
  rules: Rule[];
}

export interface PreviewSeries {
  source: string;
  metric: string;
  value: number | null;
  time: string | null;
}

export interface Preview {
  series: PreviewSeries[];
}

// -- routes, in openapi-typescript's shape (so openapi-fetch checks the calls) --------------

type Json<T> = { headers: { [name: string]: unknown }; content: { "application/json": T } };
type Refusals = {
  400: Json<ErrorBody>;
  401: Json<ErrorBody>;
  403: Json<ErrorBody>;
  404: Json<ErrorBody>;
  422: Json<ErrorBody>;
  503: Json<ErrorBody>;
};
type NoParameters = { query?: never; header?: never; path?: never; cookie?: never };
type QueryParams<Query> = { query?: Query; header?: never; path?: never; cookie?: never };
type PathParams<Path> = { query?: never; header?: never; path: Path; cookie?: never };
type Body<B> = { content: { "application/json": B } };
type Op200<P, A> = { parameters: P; requestBody?: never; responses: { 200: Json<A> } & Refusals };
type WithBody<P, B, Status extends number, A> = {
  parameters: P;
  requestBody: Body<B>;
  responses: { [S in Status]: Json<A> } & Refusals;
};
type Unused = { options?: never; head?: never; patch?: never; trace?: never };
type RulePath = { rule_id: string };

export interface NotifyPaths {
  "/api/v1/notifications": {
    parameters: NoParameters;
    get: Op200<QueryParams<{ state?: InboxState; before_id?: number; limit?: number }>, NotificationPage>;
    post: WithBody<NoParameters, NewNotification, 201, CreatedNotifications>;
    put?: never;
    delete?: never;
  } & Unused;
  "/api/v1/notifications/unread": {
    parameters: NoParameters;
    get: Op200<NoParameters, InboxCount>;
    post?: never;
    put?: never;
    delete?: never;
  } & Unused;
  "/api/v1/notifications/mark": {
    parameters: NoParameters;
    get?: never;
    post: WithBody<NoParameters, MarkRequest, 200, MarkAnswer>;
    put?: never;
    delete?: never;
  } & Unused;
  "/api/v1/alerts/rules": {
    parameters: NoParameters;
    get: Op200<NoParameters, RuleList>;
    post: WithBody<NoParameters, RuleBody, 201, Rule>;
    put?: never;
    delete?: never;
  } & Unused;
  "/api/v1/alerts/rules/{rule_id}": {
    parameters: NoParameters;
    get?: never;
    post?: never;
    put: WithBody<PathParams<RulePath>, RuleBody, 200, Rule>;
    delete: {
      parameters: PathParams<RulePath>;
      requestBody?: never;
      responses: { 204: { headers: { [name: string]: unknown }; content?: never } } & Refusals;
    };
  } & Unused;
  "/api/v1/alerts/rules/preview": {
    parameters: NoParameters;
    get?: never;
    post: WithBody<NoParameters, { condition: Condition }, 200, Preview>;
    put?: never;
    delete?: never;
  } & Unused;
}

// -- which form field a refusal is about -----------------------------------------------------

/** Error codes that name a field without a `parameter` (the gateway's codes for issue 15). */
const CODE_FIELDS: Record<string, string> = {
  unknown_recipient: "recipients",
  no_recipients: "recipients",
  empty_title: "title",
  title_too_long: "title",
  body_too_long: "body",
  unknown_series: "metric",
  unknown_metric: "metric",
  unknown_class: "class_id",
  negative_duration: "for_s",
  invalid_link: "link",
};

/**
 * The form field a refusal is about, among `fields`: the last name of its `parameter`
 * (`recipients.users[0]` → `users`, then `recipients`), else its code's field; null when it
 * names none of them (the form shows it as a whole).
 */
export function fieldOfError(
  error: { code: string; parameter?: string | null },
  fields: readonly string[],
): string | null {
  if (error.parameter) {
    const parts = error.parameter
      .replace(/^\$\.?/, "")
      .split(/[.[\]]+/)
      .filter((part) => part && !/^\d+$/.test(part))
      .reverse();
    for (const part of parts) if (fields.includes(part)) return part;
  }
  const byCode = CODE_FIELDS[error.code];
  if (byCode && fields.includes(byCode)) return byCode;
  for (const field of fields) if (error.code.startsWith(`${field}_`) || error.code.endsWith(`_${field}`)) return field;
  return null;
}
