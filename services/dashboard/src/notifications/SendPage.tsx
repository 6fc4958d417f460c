/**
 * Admins send a notification: to everyone, to roles, or to users picked by email; with a
 * kind, a title, a body and an optional link. Refusals are shown on the field they are about.
 */
import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent, type ReactNode } from "react";
import { answer } from "../api/http";
import { getServices } from "../app/services";
import { NeedAdmin } from "../pages/NotFoundPage";
import { FeedbackLine, type Feedback } from "../ui/Feedback";
import { useTitle } from "../ui/hooks";
import { notifyKeys } from "./api";
import { emptySendForm, linkHint, sendErrorsOf, validateSend, type SendErrors, type SendField, type SendForm } from "./sendForm";
import { KINDS, LINK_KINDS, ROLES, type Kind, type LinkKind, type Role } from "./types";

export function SendPage({ isAdmin }: { isAdmin: boolean }) {
  if (!isAdmin) return <NeedAdmin title="Send a notification" />;
  return <SendNotification />;
}

/** An input's error, tied to it with aria-describedby and aria-invalid. */
export function FieldError({ id, message }: { id: string; message: string | undefined }) {
  if (!message) return null;
  return (
    <span className="field-error" id={id}>
      {message}
    </span>
  );
}

export function invalid(id: string, message: string | undefined, hint?: string) {
  const describedBy = [message ? id : null, hint ?? null].filter(Boolean).join(" ");
  return { "aria-invalid": message ? true : undefined, "aria-describedby": describedBy || undefined };
}

function SendNotification() {
  useTitle("Send a notification");
  const { api } = getServices();
  const users = useQuery({
    queryKey: notifyKeys.users,
    queryFn: ({ signal }) => answer(api.GET("/api/v1/admin/users", { signal })),
  });
  const [form, setForm] = useState<SendForm>(emptySendForm);
  const [errors, setErrors] = useState<SendErrors>({});
  const [feedback, setFeedback] = useState<Feedback | null>(null);
  const [sending, setSending] = useState(false);
  const set = <K extends keyof SendForm>(key: K, value: SendForm[K], field?: SendField) => {
    setForm((f) => ({ ...f, [key]: value }));
    if (field && errors[field]) setErrors((e) => ({ ...e, [field]: undefined }));
  };
  const toggleRole = (role: Role, on: boolean) =>
    set("roles", on ? [...form.roles, role] : form.roles.filter((r) => r !== role), "recipients");

  async function submit(event: FormEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    setFeedback(null);
    const { body, errors: found } = validateSend(form);
    setErrors(found);
    if (!body) {
      focusFirstError(event.currentTarget);
      return;
    }
    setSending(true);
    try {
      const created = await answer(api.POST("/api/v1/notifications", { body }));
      setFeedback({ kind: "ok", text: `Sent “${body.title}” to ${created.recipients} ${created.recipients === 1 ? "person" : "people"}.` });
      setForm(emptySendForm());
    } catch (error) {
      const placed = sendErrorsOf(error);
      setErrors(placed);
      if (placed.form) setFeedback({ kind: "error", text: `Could not send it: ${placed.form}` });
    } finally {
      setSending(false);
    }
  }

  const emails = [...(users.data ?? [])].filter((u) => !u.disabled).sort((a, b) => a.email.localeCompare(b.email));

  return (
    <>
      <h1 tabIndex={-1}>Send a notification</h1>
      <p>
        It lands in each recipient’s <a href="#/inbox">inbox</a> at once, on every device they have open.
      </p>
      <form className="panel stack-form" onSubmit={(e) => void submit(e)} noValidate data-testid="send-notification">
        <fieldset className="field" {...invalid("send-recipients-error", errors.recipients)}>
          <legend>Recipients</legend>
          <label className="check">
            <input type="checkbox" checked={form.everyone} onChange={(e) => set("everyone", e.target.checked, "recipients")} />
            <span>Everyone</span>
          </label>
          <div className="check-row" role="group" aria-label="Roles">
            {ROLES.map((role) => (
              <label key={role} className="check">
                <input
                  type="checkbox"
                  disabled={form.everyone}
                  checked={form.roles.includes(role)}
                  onChange={(e) => toggleRole(role, e.target.checked)}
                />
                <span>Every {role}</span>
              </label>
            ))}
          </div>
          <label htmlFor="send-users">Users (pick several with Ctrl or ⌘)</label>
          <select
            id="send-users"
            multiple
            size={Math.min(6, Math.max(3, emails.length))}
            disabled={form.everyone}
            value={form.users}
            onChange={(e) => set("users", [...e.target.selectedOptions].map((o) => o.value), "recipients")}
          >
            {emails.map((u) => (
              <option key={u.id} value={u.id}>
                {u.email} ({u.role})
              </option>
            ))}
          </select>
          {users.isError && <span className="hint">Could not load the users; send to roles or everyone.</span>}
          <FieldError id="send-recipients-error" message={errors.recipients} />
        </fieldset>
        <Field id="send-kind" label="Kind" error={errors.kind}>
          <select id="send-kind" value={form.kind} onChange={(e) => set("kind", e.target.value as Kind, "kind")} {...invalid("send-kind-error", errors.kind)}>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </Field>
        <Field id="send-title" label="Title" error={errors.title}>
          <input id="send-title" value={form.title} onChange={(e) => set("title", e.target.value, "title")} {...invalid("send-title-error", errors.title)} />
        </Field>
        <Field id="send-body" label="Message (optional)" error={errors.body}>
          <textarea id="send-body" rows={4} value={form.body} onChange={(e) => set("body", e.target.value, "body")} {...invalid("send-body-error", errors.body)} />
        </Field>
        <div className="field-row">
          <Field id="send-link-kind" label="Link (optional)" error={undefined}>
            <select id="send-link-kind" value={form.linkKind} onChange={(e) => set("linkKind", e.target.value as LinkKind | "", "link")}>
              <option value="">none</option>
              {LINK_KINDS.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </Field>
          {form.linkKind && (
            <Field id="send-link-target" label="Links to" error={errors.link}>
              <input
                id="send-link-target"
                value={form.linkTarget}
                onChange={(e) => set("linkTarget", e.target.value, "link")}
                {...invalid("send-link-target-error", errors.link, "send-link-hint")}
              />
              <span className="hint" id="send-link-hint">
                {linkHint(form.linkKind)}
              </span>
            </Field>
          )}
        </div>
        <button type="submit" className="button button--primary" disabled={sending}>
          {sending ? "Sending…" : "Send notification"}
        </button>
        <FeedbackLine feedback={feedback} />
      </form>
    </>
  );
}

export function Field({ id, label, error, children }: { id: string; label: string; error: string | undefined; children: ReactNode }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children}
      <FieldError id={`${id}-error`} message={error} />
    </div>
  );
}

/** After a refused submit, focus the first field in error. */
export function focusFirstError(form: HTMLFormElement | null): void {
  window.setTimeout(() => form?.querySelector<HTMLElement>('[aria-invalid="true"] input, [aria-invalid="true"]')?.focus(), 0);
}
