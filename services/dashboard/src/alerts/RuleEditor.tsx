/**
 * The form that creates or edits an alert rule: the condition's fields for its type, the
 * series it watches (a live preview), for a saved rule its series pending or firing now,
 * severity, recipients and whether it is enabled. It checks each field before sending and
 * shows the gateway's refusals on the field they name.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import type { Me } from "../api/gateway.gen";
import { answer, ApiError, errorMessage } from "../api/http";
import { getServices } from "../app/services";
import { notifyKeys } from "../notifications/api";
import { Field, FieldError, focusFirstError, invalid } from "../notifications/SendPage";
import { fieldOfError, ROLES, SEVERITIES, type Role, type Rule, type Severity } from "../notifications/types";
import { RuleFirings, RulePreview, type Units } from "./RuleSeries";
import { CONDITION_FIELDS, conditionTypesFor, emptyForm, formFromRule, validateRule, type FieldErrors, type RuleForm } from "./ruleForm";

const FIELDS = [
  "name",
  "metric",
  "source",
  "op",
  "value",
  "for_s",
  "per_s",
  "class_id",
  "errors",
  "minutes",
  "cells",
  "plan_minutes",
  "severity",
  "recipients",
  "everyone",
  "users",
  "roles",
];
const RECIPIENT_FIELDS = new Set(["users", "roles", "everyone"]);

export function RuleEditor({ me, rule, onDone }: { me: Me; rule: Rule | null; onDone: (text: string | null) => void }) {
  const { api } = getServices();
  const queryClient = useQueryClient();
  const isAdmin = me.role === "admin";
  const users = useQuery({
    queryKey: notifyKeys.users,
    queryFn: ({ signal }) => answer(api.GET("/api/v1/admin/users", { signal })),
    enabled: isAdmin,
  });
  const catalog = useQuery({
    queryKey: ["catalog"],
    queryFn: ({ signal }) => answer(api.GET("/api/v1/metrics/catalog", { signal })),
    enabled: isAdmin,
  });
  const [form, setForm] = useState<RuleForm>(() => (rule ? formFromRule(rule) : { ...emptyForm(isAdmin), users: isAdmin ? [] : [me.id] }));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), []);
  const set = <K extends keyof RuleForm>(key: K, value: RuleForm[K]) => {
    setForm((f) => ({ ...f, [key]: value }));
    const field = RECIPIENT_FIELDS.has(key) ? "recipients" : key;
    if (errors[field]) setErrors((e) => ({ ...e, [field]: undefined }));
  };
  const shown = new Set(CONDITION_FIELDS[form.type]);
  const catalogSeries = catalog.data?.series ?? [];
  const metrics = [...new Set(catalogSeries.map((s) => s.name))].sort();
  const sources = [...new Set(catalogSeries.filter((s) => !form.metric.trim() || s.name === form.metric.trim()).map((s) => s.source))].sort();
  const units: Units = new Map(catalogSeries.map((s) => [`${s.source}:${s.name}`, s.unit]));

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
        ? await answer(api.PUT("/api/v1/alerts/rules/{rule_id}", { params: { path: { rule_id: rule.id } }, body }))
        : await answer(api.POST("/api/v1/alerts/rules", { body }));
      queryClient.setQueryData(notifyKeys.rule(saved.rule.id), saved);
      onDone(`“${saved.rule.name}” is ${rule ? "saved" : "created"}.`);
    } catch (error) {
      const field = error instanceof ApiError && error.status < 500 ? fieldOfError(error, FIELDS) : null;
      if (field) setErrors({ [RECIPIENT_FIELDS.has(field) ? "recipients" : field]: errorMessage(error) });
      else setFormError(errorMessage(error));
    } finally {
      setSaving(false);
    }
  }

  const num = (key: "value" | "for_s" | "per_s" | "errors" | "minutes" | "cells" | "plan_minutes", label: string, hint?: string) => (
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
            {conditionTypesFor(isAdmin).map((t) => (
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
          {shown.has("plan_minutes") && num("plan_minutes", "Plan (minutes)", "the class's planned cells spread over this time")}
        </div>
        <RulePreview form={form} units={units} />
        {rule && (
          <section className="rule-preview" aria-labelledby="rule-firings-heading">
            <h3 id="rule-firings-heading">Pending or firing now</h3>
            <RuleFirings rule={rule} warn />
          </section>
        )}
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
          {isAdmin ? (
            <>
              <label className="check">
                <input type="checkbox" checked={form.everyone} onChange={(e) => set("everyone", e.target.checked)} />
                <span>Everyone</span>
              </label>
              <div className="check-row" role="group" aria-label="Roles">
                {ROLES.filter((r) => r !== "student").map((role) => (
                  <label key={role} className="check">
                    <input
                      type="checkbox"
                      disabled={form.everyone}
                      checked={form.roles.includes(role)}
                      onChange={(e) => set("roles", e.target.checked ? [...form.roles, role] : form.roles.filter((r: Role) => r !== role))}
                    />
                    <span>Every {role}</span>
                  </label>
                ))}
              </div>
              <label htmlFor="rule-users">Users (pick several with Ctrl or ⌘)</label>
              <select
                id="rule-users"
                multiple
                size={4}
                disabled={form.everyone}
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
