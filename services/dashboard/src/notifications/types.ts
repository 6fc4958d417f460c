/**
 * The notifications' and alert rules' REST shapes, routes and socket frame, in one place.
 *
 * The notifications are the generated ones (`make types`: gateway.gen.ts from the gateway's
 * OpenAPI document), under the names the pages use. The alert rules are written by hand:
 * TEMPORARY, their routes (/api/v1/alerts/rules) were not in docs/schemas/gateway.openapi.json
 * when these pages were written. After the merge of the alerts routes, `make types` generates
 * them: replace the rule shapes below with aliases of the generated names and drop the cast in
 * ./api.ts (the generated `paths` will hold the routes). Everything that depends on the exact
 * wire shapes is in this file, so a shape that moves is adapted here only. The shapes follow
 * pulse_contracts.notifications (inbox.py) and the gateway's API as agreed for issue 15.
 */
import type {
  CountOut,
  CreatedOut,
  ErrorBody,
  InboxFrame,
  Link as LinkOut,
  Mark,
  NewNotification as NewNotificationBody,
  Notification as NotificationOut,
  PageOut,
  Recipients as RecipientsBody,
} from "../api/gateway.gen";

// -- notifications ------------------------------------------------------------------------

export const KINDS = ["info", "success", "warning", "error"] as const;
export type Kind = NotificationOut["kind"];
export type Source = NotificationOut["source"];
export const LINK_KINDS = ["series", "class", "student", "trace"] as const satisfies ReadonlyArray<LinkOut["kind"]>;
export type LinkKind = LinkOut["kind"];
/** `all`: every one not archived; `archived`: archived ones only. */
export const INBOX_STATES = ["unread", "read", "archived", "all"] as const;
export type InboxState = (typeof INBOX_STATES)[number];
export type MarkChange = Mark["change"];
export const CHANGES = ["created", "read", "unread", "seen", "archived"] as const;
export type ChangeKind = (typeof CHANGES)[number];
export const ROLES = ["admin", "instructor", "user", "student"] as const satisfies ReadonlyArray<NonNullable<RecipientsBody["roles"]>[number]>;
export type Role = (typeof ROLES)[number];

/** What a notification points at: `series` `<source>:<metric>`, `class` `<class_id>`,
 * `student` `<class_id>:<student_id>`, `trace` `<trace id>`. */
export type Link = LinkOut;
/** A notification (`read_at`, `seen_at`, `archived_at`: null or absent until it happens). */
export type Notification = NotificationOut;
export type NotificationPage = PageOut;
/** An unread count and the inbox version it is of (the highest version wins). */
export type InboxCount = Pick<CountOut, "unread" | "version">;
export type MarkAnswer = CountOut;
export type MarkRequest = Mark;
export type Recipients = RecipientsBody;
export type NewNotification = NewNotificationBody;
export type CreatedNotifications = CreatedOut;
/** The socket's frame on the `notifications` channel: one change of the user's inbox. */
export type NotificationFrame = InboxFrame;

export function isChange(change: string): change is ChangeKind {
  return (CHANGES as readonly string[]).includes(change);
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

export interface AlertsPaths {
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
