/**
 * The alert rule form, framework-free: what the person typed (strings, as inputs hold them),
 * checked and turned into the rule the API takes, with a message per field in error. The
 * field names are the wire names, so a refusal's `parameter` lands on the same field. The
 * bounds are the contract's (pulse_contracts.notifications.rules).
 */
import { isMetricType, type Condition, type ConditionType, type Firing, type Op, type Role, type Rule, type RuleBody, type Severity } from "../notifications/types";

export interface RuleForm {
  name: string;
  type: ConditionType;
  metric: string;
  source: string;
  op: Op;
  value: string;
  for_s: string;
  per_s: string;
  class_id: string;
  errors: string;
  minutes: string;
  cells: string;
  plan_minutes: string;
  severity: Severity;
  everyone: boolean;
  users: string[];
  roles: Role[];
  enabled: boolean;
}

export type FieldErrors = Partial<Record<keyof RuleForm | "recipients", string>>;

export const CONDITION_TYPES: ReadonlyArray<{ type: ConditionType; label: string }> = [
  { type: "threshold", label: "A metric above or below a value" },
  { type: "no_data", label: "A metric sends no data" },
  { type: "rate", label: "A metric changes fast" },
  { type: "cell_errors", label: "A student errs repeatedly on one cell" },
  { type: "student_idle", label: "A student is idle" },
  { type: "class_behind", label: "A class falls behind the plan" },
];

/** The condition types one may choose: admins every one, instructors those on a class. */
export function conditionTypesFor(isAdmin: boolean): typeof CONDITION_TYPES {
  return isAdmin ? CONDITION_TYPES : CONDITION_TYPES.filter((t) => !isMetricType(t.type));
}

/** The fields each condition type uses (besides name, severity, recipients). */
export const CONDITION_FIELDS: Record<ConditionType, ReadonlyArray<keyof RuleForm>> = {
  threshold: ["metric", "source", "op", "value", "for_s"],
  no_data: ["metric", "source", "for_s"],
  rate: ["metric", "source", "op", "per_s", "for_s"],
  cell_errors: ["class_id", "errors"],
  student_idle: ["class_id", "minutes"],
  class_behind: ["class_id", "cells", "plan_minutes"],
};

export const MAX_NAME_CHARS = 200;
const MAX_DURATION_S = 7 * 24 * 3600;
const DEFAULT_PLAN_MINUTES = 60;
const CLASS_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** A metric's and a source's name: each becomes a NATS subject token. */
const SERIES_TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

export function emptyForm(isAdmin = true): RuleForm {
  return {
    name: "",
    type: isAdmin ? "threshold" : "cell_errors",
    metric: "",
    source: "",
    op: "above",
    value: "",
    for_s: "60",
    per_s: "",
    class_id: "",
    errors: "3",
    minutes: "10",
    cells: "3",
    plan_minutes: String(DEFAULT_PLAN_MINUTES),
    severity: "warning",
    everyone: false,
    users: [],
    roles: [],
    enabled: true,
  };
}

export function formFromRule(rule: Rule): RuleForm {
  const form: RuleForm = {
    ...emptyForm(),
    name: rule.name,
    type: rule.condition.type,
    severity: rule.severity,
    everyone: rule.recipients.everyone ?? false,
    users: [...(rule.recipients.users ?? [])],
    roles: [...(rule.recipients.roles ?? [])],
    enabled: rule.enabled,
  };
  const c = rule.condition;
  switch (c.type) {
    case "threshold":
      return { ...form, metric: c.metric, source: c.source ?? "", op: c.op ?? "above", value: String(c.value), for_s: String(c.for_s ?? 0) };
    case "no_data":
      return { ...form, metric: c.metric, source: c.source ?? "", for_s: String(c.for_s) };
    case "rate":
      return { ...form, metric: c.metric, source: c.source ?? "", op: c.op ?? "above", per_s: String(c.per_s), for_s: String(c.for_s ?? 0) };
    case "cell_errors":
      return { ...form, class_id: c.class_id, errors: String(c.errors) };
    case "student_idle":
      return { ...form, class_id: c.class_id, minutes: String(c.minutes) };
    case "class_behind":
      return { ...form, class_id: c.class_id, cells: String(c.cells), plan_minutes: String(c.plan_minutes ?? DEFAULT_PLAN_MINUTES) };
  }
}

type Parsed = { ok: true; value: number } | { ok: false; message: string };

function number(text: string, what: string, { min, max, integer, above }: { min?: number; max?: number; integer?: boolean; above?: number }): Parsed {
  const trimmed = text.trim();
  if (trimmed === "") return { ok: false, message: `Enter ${what}.` };
  const value = Number(trimmed);
  if (!Number.isFinite(value)) return { ok: false, message: `${capital(what)} must be a number.` };
  if (integer && !Number.isInteger(value)) return { ok: false, message: `${capital(what)} must be a whole number.` };
  if (above !== undefined && value <= above) return { ok: false, message: `${capital(what)} must be more than ${above}.` };
  if (min !== undefined && value < min) {
    return { ok: false, message: min === 0 ? `${capital(what)} cannot be negative.` : `${capital(what)} must be at least ${min}.` };
  }
  if (max !== undefined && value > max) return { ok: false, message: `${capital(what)} must be at most ${max}.` };
  return { ok: true, value };
}

function capital(text: string): string {
  return text.replace(/^(the |a |an )/, "").replace(/^./, (c) => c.toUpperCase());
}

/** The condition the form describes, or the errors of its fields. */
export function conditionOf(form: RuleForm): { condition: Condition | null; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const num = (field: keyof RuleForm, what: string, rules: Parameters<typeof number>[2]): number => {
    const parsed = number(String(form[field]), what, rules);
    if (parsed.ok) return parsed.value;
    errors[field] = parsed.message;
    return 0;
  };
  const metric = form.metric.trim();
  const source = form.source.trim() || null;
  const classId = form.class_id.trim();
  if (isMetricType(form.type)) {
    if (!metric) errors.metric = "Enter the metric, e.g. cpu.";
    else if (!SERIES_TOKEN.test(metric)) errors.metric = "A metric name has letters, digits, _ and - only (at most 64).";
    if (source && !SERIES_TOKEN.test(source)) errors.source = "A source name has letters, digits, _ and - only (at most 64).";
  } else if (!classId) {
    errors.class_id = "Enter the class id.";
  } else if (!CLASS_ID.test(classId)) {
    errors.class_id = "A class id has a-z, 0-9 and “-” only.";
  }
  // A series that never sent cannot be silent: no_data waits a while, the others may fire at once.
  const duration = (): number =>
    num("for_s", "the duration", form.type === "no_data" ? { above: 0, max: MAX_DURATION_S } : { min: 0, max: MAX_DURATION_S });
  let condition: Condition;
  switch (form.type) {
    case "threshold":
      condition = { type: "threshold", metric, source, op: form.op, value: num("value", "the value", {}), for_s: duration() };
      break;
    case "no_data":
      condition = { type: "no_data", metric, source, for_s: duration() };
      break;
    case "rate":
      condition = { type: "rate", metric, source, op: form.op, per_s: num("per_s", "the change per second", {}), for_s: duration() };
      break;
    case "cell_errors":
      condition = { type: "cell_errors", class_id: classId, errors: num("errors", "the number of errors", { min: 1, max: 10_000, integer: true }) };
      break;
    case "student_idle":
      condition = { type: "student_idle", class_id: classId, minutes: num("minutes", "the minutes", { above: 0, max: 24 * 60 }) };
      break;
    case "class_behind":
      condition = {
        type: "class_behind",
        class_id: classId,
        cells: num("cells", "the number of cells", { min: 1, max: 100_000, integer: true }),
        plan_minutes: num("plan_minutes", "the plan's minutes", { above: 0, max: 24 * 60 }),
      };
      break;
  }
  return { condition: Object.keys(errors).length === 0 ? condition : null, errors };
}

/** The rule to send, or the errors of the form's fields. */
export function validateRule(form: RuleForm): { body: RuleBody | null; errors: FieldErrors } {
  const { condition, errors } = conditionOf(form);
  const name = form.name.trim();
  if (!name) errors.name = "Enter a name.";
  else if (name.length > MAX_NAME_CHARS) errors.name = `At most ${MAX_NAME_CHARS} characters.`;
  if (!form.everyone && form.users.length === 0 && form.roles.length === 0) errors.recipients = "Choose who gets its notifications.";
  if (!condition || Object.keys(errors).length > 0) return { body: null, errors };
  const recipients: RuleBody["recipients"] = {};
  if (form.everyone) recipients.everyone = true;
  else {
    if (form.users.length) recipients.users = [...form.users];
    if (form.roles.length) recipients.roles = [...form.roles];
  }
  return { body: { name, condition, severity: form.severity, recipients, enabled: form.enabled }, errors };
}

/** The condition in words, for the rules list. */
export function describeCondition(c: Condition): string {
  const on = (metric: string, source?: string | null) => (source ? `${metric} on ${source}` : `${metric} (any source)`);
  const held = (s: number | undefined) => (s ? ` for ${duration(s)}` : "");
  switch (c.type) {
    case "threshold":
      return `${on(c.metric, c.source)} ${c.op ?? "above"} ${c.value}${held(c.for_s)}`;
    case "no_data":
      return `no data from ${on(c.metric, c.source)} for ${duration(c.for_s)}`;
    case "rate":
      return `${on(c.metric, c.source)} ${(c.op ?? "above") === "above" ? "rising faster than" : "falling faster than"} ${Math.abs(c.per_s)}/s${held(c.for_s)}`;
    case "cell_errors":
      return `a student in ${c.class_id} with ${c.errors} errors on one cell`;
    case "student_idle":
      return `a student in ${c.class_id} idle for ${c.minutes} min`;
    case "class_behind":
      return `${c.class_id}'s median student ${c.cells} cells behind a ${c.plan_minutes ?? DEFAULT_PLAN_MINUTES}-min plan`;
  }
}

/** A rule's pending and firing series, the firing ones first, then by name. */
export function sortFirings(firings: readonly Firing[]): Firing[] {
  const rank = (f: Firing) => (f.state === "firing" ? 0 : 1);
  return [...firings].sort((a, b) => rank(a) - rank(b) || a.series.localeCompare(b.series));
}

export function duration(seconds: number): string {
  if (seconds % 3600 === 0 && seconds >= 3600) return `${seconds / 3600} h`;
  if (seconds % 60 === 0 && seconds >= 60) return `${seconds / 60} min`;
  return `${seconds} s`;
}
