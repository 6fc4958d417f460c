/**
 * Alert rules (admins: every rule; instructors: the rules on their classes): the list, with
 * enable/disable and delete, and a form to create or edit one that previews — as the person
 * types, debounced — which series the condition matches and their current values.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import type { Me } from "../api/gateway.gen";
import { answer, ApiError, errorMessage } from "../api/http";
import { getServices } from "../app/services";
import { formatDate, formatValue } from "../format";
import { alertsApi, notifyKeys } from "../notifications/api";
import { Field, FieldError, focusFirstError, invalid } from "../notifications/SendPage";
import { fieldOfError, ROLES, SEVERITIES, type Condition, type Preview, type Role, type Rule, type RuleBody, type Severity } from "../notifications/types";
import { Dialog } from "../ui/Dialog";
import { FeedbackLine, ListStatus, type Feedback } from "../ui/Feedback";
import { useTitle } from "../ui/hooks";
import { NeedAdmin } from "../pages/NotFoundPage";
import {
  CONDITION_FIELDS,
  CONDITION_TYPES,
  conditionOf,
  describeCondition,
  emptyForm,
  formFromRule,
  validateRule,
  type FieldErrors,
  type RuleForm,
} from "./ruleForm";

const PREVIEW_DEBOUNCE_MS = 400;
const FIELDS = ["name", "metric", "source", "op", "value", "for_s", "per_s", "class_id", "errors", "minutes", "cells", "severity", "recipients", "users", "roles"];

function bodyOf(rule: Rule, enabled: boolean): RuleBody {
  return { name: rule.name, condition: rule.condition, severity: rule.severity, recipients: rule.recipients, enabled };
}

export function RulesPage({ me }: { me: Me }) {
  if (me.role !== "admin" && me.role !== "instructor") return <NeedAdmin title="Alert rules" />;
  return <Rules me={me} />;
}

function Rules({ me }: { me: Me }) {
  useTitle("Alert rules");
  const { api } = getServices();
  const client = alertsApi(api);
  const queryClient = useQueryClient();
  const rules = useQuery({ queryKey: notifyKeys.rules, queryFn: ({ signal }) => answer(client.GET("/api/v1/alerts/rules", { signal })) });
  const [editing, setEditing] = useState<Rule | "new" | null>(null);
  const [deleting, setDeleting] = useState<Rule | null>(null);
  const [feedback, setFeedback] = useState<Feedback | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: notifyKeys.rules });

  const toggle = useMutation({
    mutationFn: (rule: Rule) =>
      answer(client.PUT("/api/v1/alerts/rules/{rule_id}", { params: { path: { rule_id: String(rule.id) } }, body: bodyOf(rule, !rule.enabled) })),
    onSuccess: (rule) => {
      setFeedback({ kind: "ok", text: `“${rule.name}” is ${rule.enabled ? "enabled" : "disabled"}.` });
      return refresh();
    },
    onError: (error, rule) => setFeedback({ kind: "error", text: `Could not change “${rule.name}”: ${errorMessage(error)}` }),
  });
  const remove = useMutation({
    mutationFn: (rule: Rule) => answer(client.DELETE("/api/v1/alerts/rules/{rule_id}", { params: { path: { rule_id: String(rule.id) } } })),
    onSuccess: (_none, rule) => {
      setDeleting(null);
      setFeedback({ kind: "ok", text: `“${rule.name}” is deleted.` });
      return refresh();
    },
    onError: (error, rule) => {
      setDeleting(null);
      setFeedback({ kind: "error", text: `Could not delete “${rule.name}”: ${errorMessage(error)}` });
    },
  });
  const list = [...(rules.data?.rules ?? [])].sort((a, b) => a.name.localeCompare(b.name));

  return (
    <>
      <h1 tabIndex={-1}>Alert rules</h1>
      <p>
        A rule sends a notification to its recipients when its condition holds, and another when it resolves.
        {me.role === "instructor" && " You manage the rules on your classes."}
      </p>
      {editing === null ? (
        <p>
          <button type="button" className="button button--primary" onClick={() => setEditing("new")}>
            New rule
          </button>
        </p>
      ) : (
        <RuleEditor
          key={editing === "new" ? "new" : String(editing.id)}
          me={me}
          rule={editing === "new" ? null : editing}
          onDone={(text) => {
            setEditing(null);
            if (text) setFeedback({ kind: "ok", text });
            void refresh();
          }}
        />
      )}
      <section aria-labelledby="rules-heading">
        <h2 id="rules-heading">{me.role === "admin" ? "All rules" : "Your rules"}</h2>
        <FeedbackLine feedback={feedback} />
        <ListStatus query={rules} what="rules" />
        {rules.isSuccess && list.length === 0 && <p>No rules yet.</p>}
        {list.length > 0 && (
          <div className="table-wrap" role="region" aria-labelledby="rules-heading" tabIndex={0}>
            <table className="admin-table" data-testid="rules-table">
              <caption className="visually-hidden">Alert rules with their condition, severity and state</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Condition</th>
                  <th scope="col">Severity</th>
                  <th scope="col">Recipients</th>
                  <th scope="col">State</th>
                  <th scope="col">Updated</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.map((rule) => (
                  <tr key={rule.id} data-rule={rule.id}>
                    <th scope="row">{rule.name}</th>
                    <td>{describeCondition(rule.condition)}</td>
                    <td>{rule.severity}</td>
                    <td>{recipientsText(rule)}</td>
                    <td>{rule.enabled ? "Enabled" : "Disabled"}</td>
                    <td>{formatDate(rule.updated_at)}</td>
                    <td>
                      <div className="actions">
                        <button type="button" className="button button--small" onClick={() => setEditing(rule)} aria-label={`Edit: ${rule.name}`}>
                          Edit
                        </button>
                        <button
                          type="button"
                          className="button button--small"
                          disabled={toggle.isPending}
                          onClick={() => toggle.mutate(rule)}
                          aria-label={`${rule.enabled ? "Disable" : "Enable"}: ${rule.name}`}
                        >
                          {rule.enabled ? "Disable" : "Enable"}
                        </button>
                        <button type="button" className="button button--small button--danger" onClick={() => setDeleting(rule)} aria-label={`Delete: ${rule.name}`}>
                          Delete
                        </button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <Dialog open={deleting !== null} title={`Delete “${deleting?.name ?? ""}”?`} onClose={() => setDeleting(null)}>
        <p>The rule stops at once; notifications it sent stay in the inboxes.</p>
        <div className="dialog-actions">
          <button type="button" className="button" onClick={() => setDeleting(null)}>
            Cancel
          </button>
          <button type="button" className="button button--danger" disabled={remove.isPending} onClick={() => deleting && remove.mutate(deleting)}>
            Delete rule
          </button>
        </div>
      </Dialog>
    </>
  );
}

function recipientsText(rule: Rule): string {
  const parts = [...(rule.recipients.roles ?? []).map((r) => `every ${r}`)];
  const users = rule.recipients.users?.length ?? 0;
  if (users) parts.push(`${users} user${users === 1 ? "" : "s"}`);
  return parts.join(", ") || "—";
}

function RuleEditor({ me, rule, onDone }: { me: Me; rule: Rule | null; onDone: (text: string | null) => void }) {
  const { api } = getServices();
  const client = alertsApi(api);
  const isAdmin = me.role === "admin";
  const users = useQuery({
    queryKey: notifyKeys.users,
    queryFn: ({ signal }) => answer(api.GET("/api/v1/admin/users", { signal })),
    enabled: isAdmin,
  });
  const catalog = useQuery({
    queryKey: ["catalog"],
    queryFn: ({ signal }) => answer(api.GET("/api/v1/metrics/catalog", { signal })),
  });
  const [form, setForm] = useState<RuleForm>(() => (rule ? formFromRule(rule) : { ...emptyForm(), users: isAdmin ? [] : [me.id] }));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), []);
  const set = <K extends keyof RuleForm>(key: K, value: RuleForm[K]) => {
    setForm((f) => ({ ...f, [key]: value }));
    const field = key === "users" || key === "roles" ? "recipients" : key;
    if (errors[field]) setErrors((e) => ({ ...e, [field]: undefined }));
  };
  const shown = new Set(CONDITION_FIELDS[form.type]);
  const metrics = [...new Set((catalog.data?.series ?? []).map((s) => s.name))].sort();
  const sources = [...new Set((catalog.data?.series ?? []).map((s) => s.source))].sort();

  async function submit(event: FormEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    setFormError(null);
    const { body, errors: found } = validateRule(form);
    setErrors(found);
    if (!body) {
      focusFirstError(event.currentTarget);
      return;
    }
    setSaving(true);
    try {
      const saved = rule
        ? await answer(client.PUT("/api/v1/alerts/rules/{rule_id}", { params: { path: { rule_id: String(rule.id) } }, body }))
        : await answer(client.POST("/api/v1/alerts/rules", { body }));
      onDone(`“${saved.name}” is ${rule ? "saved" : "created"}.`);
    } catch (error) {
      const field = error instanceof ApiError && error.status < 500 ? fieldOfError(error, FIELDS) : null;
      if (field) setErrors({ [field === "users" || field === "roles" ? "recipients" : field]: errorMessage(error) });
      else setFormError(errorMessage(error));
    } finally {
      setSaving(false);
    }
  }

  const num = (key: "value" | "for_s" | "per_s" | "errors" | "minutes" | "cells", label: string, hint?: string) => (
    <Field id={`rule-${key}`} label={label} error={errors[key]}>
      <input
        id={`rule-${key}`}
        inputMode="decimal"
        value={form[key]}
        onChange={(e) => set(key, e.target.value)}
        {...invalid(`rule-${key}-error`, errors[key], hint ? `rule-${key}-hint` : undefined)}
      />
      {hint && (
        <span className="hint" id={`rule-${key}-hint`}>
          {hint}
        </span>
      )}
    </Field>
  );

  return (
    <section aria-labelledby="rule-form-heading" className="panel">
      <h2 id="rule-form-heading" tabIndex={-1} ref={headingRef}>
        {rule ? `Edit “${rule.name}”` : "New rule"}
      </h2>
      <form className="stack-form" onSubmit={(e) => void submit(e)} noValidate data-testid="rule-form">
        <Field id="rule-name" label="Name" error={errors.name}>
          <input id="rule-name" value={form.name} onChange={(e) => set("name", e.target.value)} {...invalid("rule-name-error", errors.name)} />
        </Field>
        <Field id="rule-type" label="When" error={undefined}>
          <select id="rule-type" value={form.type} onChange={(e) => set("type", e.target.value as RuleForm["type"])}>
            {CONDITION_TYPES.map((t) => (
              <option key={t.type} value={t.type}>
                {t.label}
              </option>
            ))}
          </select>
        </Field>
        <div className="field-row">
          {shown.has("metric") && (
            <Field id="rule-metric" label="Metric" error={errors.metric}>
              <input id="rule-metric" list="rule-metrics" value={form.metric} onChange={(e) => set("metric", e.target.value)} {...invalid("rule-metric-error", errors.metric)} />
              <datalist id="rule-metrics">
                {metrics.map((m) => (
                  <option key={m} value={m} />
                ))}
              </datalist>
            </Field>
          )}
          {shown.has("source") && (
            <Field id="rule-source" label="Source (empty: every source)" error={errors.source}>
              <input id="rule-source" list="rule-sources" value={form.source} onChange={(e) => set("source", e.target.value)} {...invalid("rule-source-error", errors.source)} />
              <datalist id="rule-sources">
                {sources.map((s) => (
                  <option key={s} value={s} />
                ))}
              </datalist>
            </Field>
          )}
          {shown.has("op") && (
            <Field id="rule-op" label={form.type === "rate" ? "Direction" : "Is"} error={errors.op}>
              <select id="rule-op" value={form.op} onChange={(e) => set("op", e.target.value as RuleForm["op"])}>
                <option value="above">{form.type === "rate" ? "rising (above)" : "above"}</option>
                <option value="below">{form.type === "rate" ? "falling (below)" : "below"}</option>
              </select>
            </Field>
          )}
          {shown.has("value") && num("value", "Value")}
          {shown.has("per_s") && num("per_s", "Change per second")}
          {shown.has("for_s") && num("for_s", "For (seconds)", form.type === "no_data" ? "how long without a point" : "how long it must hold; 0: at once")}
          {shown.has("class_id") && (
            <Field id="rule-class_id" label="Class id" error={errors.class_id}>
              <input id="rule-class_id" value={form.class_id} onChange={(e) => set("class_id", e.target.value.toLowerCase())} {...invalid("rule-class_id-error", errors.class_id)} />
            </Field>
          )}
          {shown.has("errors") && num("errors", "Errors on one cell")}
          {shown.has("minutes") && num("minutes", "Idle minutes")}
          {shown.has("cells") && num("cells", "Cells behind")}
        </div>
        <RulePreview form={form} />
        <div className="field-row">
          <Field id="rule-severity" label="Severity" error={errors.severity}>
            <select id="rule-severity" value={form.severity} onChange={(e) => set("severity", e.target.value as Severity)}>
              {SEVERITIES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </Field>
          <label className="check">
            <input type="checkbox" checked={form.enabled} onChange={(e) => set("enabled", e.target.checked)} />
            <span>Enabled</span>
          </label>
        </div>
        <fieldset className="field" aria-describedby={errors.recipients ? "rule-recipients-error" : undefined}>
          <legend>Recipients</legend>
          <div className="check-row" role="group" aria-label="Roles">
            {ROLES.filter((r) => r !== "student").map((role) => (
              <label key={role} className="check">
                <input
                  type="checkbox"
                  checked={form.roles.includes(role)}
                  onChange={(e) => set("roles", e.target.checked ? [...form.roles, role] : form.roles.filter((r: Role) => r !== role))}
                />
                <span>Every {role}</span>
              </label>
            ))}
          </div>
          {isAdmin ? (
            <>
              <label htmlFor="rule-users">Users (pick several with Ctrl or ⌘)</label>
              <select
                id="rule-users"
                multiple
                size={4}
                value={form.users}
                onChange={(e) => set("users", [...e.target.selectedOptions].map((o) => o.value))}
              >
                {[...(users.data ?? [])]
                  .filter((u) => !u.disabled)
                  .sort((a, b) => a.email.localeCompare(b.email))
                  .map((u) => (
                    <option key={u.id} value={u.id}>
                      {u.email}
                    </option>
                  ))}
              </select>
            </>
          ) : (
            <label className="check">
              <input
                type="checkbox"
                checked={form.users.includes(me.id)}
                onChange={(e) => set("users", e.target.checked ? [...form.users, me.id] : form.users.filter((u) => u !== me.id))}
              />
              <span>Me ({me.email})</span>
            </label>
          )}
          <FieldError id="rule-recipients-error" message={errors.recipients} />
        </fieldset>
        <div className="actions">
          <button type="submit" className="button button--primary" disabled={saving}>
            {rule ? "Save rule" : "Create rule"}
          </button>
          <button type="button" className="button" onClick={() => onDone(null)}>
            Cancel
          </button>
        </div>
        {formError && (
          <p className="form-error" role="alert">
            {formError}
          </p>
        )}
      </form>
    </section>
  );
}

/** The series the condition matches now, with their latest values (debounced while typing). */
function RulePreview({ form }: { form: RuleForm }) {
  const { api } = getServices();
  const { condition } = conditionOf(form);
  const key = condition ? JSON.stringify(condition) : "";
  const [state, setState] = useState<{ key: string; preview: Preview | null; error: string | null; loading: boolean }>({
    key: "",
    preview: null,
    error: null,
    loading: false,
  });

  useEffect(() => {
    if (!key) return;
    const controller = new AbortController();
    const timer = window.setTimeout(() => {
      setState((s) => ({ ...s, loading: true }));
      answer(
        alertsApi(api).POST("/api/v1/alerts/rules/preview", { body: { condition: JSON.parse(key) as Condition }, signal: controller.signal }),
      ).then(
        (preview) => !controller.signal.aborted && setState({ key, preview, error: null, loading: false }),
        (error: unknown) => !controller.signal.aborted && setState({ key, preview: null, error: errorMessage(error), loading: false }),
      );
    }, PREVIEW_DEBOUNCE_MS);
    return () => {
      window.clearTimeout(timer);
      controller.abort();
    };
  }, [key, api]);

  const current = state.key === key;
  const series = current ? (state.preview?.series ?? []) : [];
  return (
    <section className="rule-preview" aria-labelledby="rule-preview-heading" data-testid="rule-preview" data-state={!key ? "incomplete" : !current || state.loading ? "loading" : state.error ? "error" : "ready"}>
      <h3 id="rule-preview-heading">Matches now</h3>
      <div role="status" aria-live="polite">
        {!key && <p className="hint">Complete the condition to see which series it matches.</p>}
        {key && (!current || state.loading) && <p className="hint">Looking…</p>}
        {key && current && !state.loading && state.error && <p className="form-error">{state.error}</p>}
        {key && current && !state.loading && !state.error && (
          <p>{series.length === 0 ? "No series match this condition now." : `${series.length} series match${series.length === 1 ? "es" : ""}.`}</p>
        )}
      </div>
      {current && series.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">The series the rule matches, with their latest value</caption>
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">Metric</th>
                <th scope="col">Latest value</th>
                <th scope="col">At</th>
              </tr>
            </thead>
            <tbody>
              {series.slice(0, 50).map((s) => (
                <tr key={`${s.source}:${s.metric}`}>
                  <td>{s.source}</td>
                  <td>{s.metric}</td>
                  <td>{s.value === null ? "no data" : formatValue(s.value, null)}</td>
                  <td>{s.time ? formatDate(s.time) : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
