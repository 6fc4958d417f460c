/**
 * The notifications' and alert rules' REST shapes and socket frame, under the names the pages
 * use: aliases of the generated ones (`make types`: gateway.gen.ts from the gateway's OpenAPI
 * document), so the app's one API client checks every call, body and answer against the
 * gateway. The shapes follow pulse_contracts.notifications (inbox.py, rules.py).
 */
import type {
  AlertRule,
  CountOut,
  CreatedOut,
  Firing as FiringOut,
  InboxFrame,
  Link as LinkOut,
  Mark,
  NewNotification as NewNotificationBody,
  NewRule,
  NoData,
  Notification as NotificationOut,
  PageOut,
  PreviewOut,
  PreviewSeries as PreviewSeriesOut,
  Rate,
  Recipients as RecipientsBody,
  RuleChange as RuleChangeBody,
  RuleOut,
  RulesOut,
  Threshold,
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

/** A rule's severity is the kind of the notifications it sends. */
export const SEVERITIES = KINDS satisfies ReadonlyArray<AlertRule["severity"]>;
export type Severity = AlertRule["severity"];
/** Tagged by `type`: threshold, no_data, rate (on a metric), cell_errors, student_idle,
 * class_behind (on a class). */
export type Condition = AlertRule["condition"];
export type ConditionType = Condition["type"];
export type MetricCondition = Threshold | NoData | Rate;
export type Op = NonNullable<Threshold["op"]>;
export type Rule = AlertRule;
/** What POST /api/v1/alerts/rules takes. */
export type RuleBody = NewRule;
/** What PUT /api/v1/alerts/rules/{rule_id} takes: only the fields given change. */
export type RuleChange = RuleChangeBody;
export type RuleList = RulesOut;
/** A rule with its series that are not at rest (create, show and change answer it). */
export type RuleDetail = RuleOut;
/** One series of a rule: `pending` (its condition holds, not yet for its duration) or
 * `firing` (notified at `fired_at`). `series` is `<source>:<metric>`, a class or a student. */
export type Firing = FiringOut;
/** A series a metric condition matches now; `matches`: its latest value meets a threshold. */
export type PreviewSeries = PreviewSeriesOut;
export type Preview = PreviewOut;

const METRIC_CONDITIONS: ReadonlyArray<ConditionType> = ["threshold", "no_data", "rate"];

/** A condition on a metric's series (admins only; the preview covers these alone). */
export function isMetricType(type: ConditionType): type is MetricCondition["type"] {
  return METRIC_CONDITIONS.includes(type);
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
