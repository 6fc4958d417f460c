/**
 * The admin's "Send a notification" form, framework-free: check what was typed and build the
 * API's body, or say what is wrong with each field; and place a refusal on its field.
 */
import { ApiError, errorMessage } from "../api/http";
import {
  fieldOfError,
  MAX_BODY_CHARS,
  MAX_TITLE_CHARS,
  type Kind,
  type LinkKind,
  type NewNotification,
  type Role,
} from "./types";

export interface SendForm {
  everyone: boolean;
  roles: Role[];
  users: string[];
  kind: Kind;
  title: string;
  body: string;
  linkKind: LinkKind | "";
  linkTarget: string;
}

export type SendField = "recipients" | "kind" | "title" | "body" | "link";
export type SendErrors = Partial<Record<SendField | "form", string>>;

export const SEND_FIELDS: readonly SendField[] = ["recipients", "kind", "title", "body", "link"];

export function emptySendForm(): SendForm {
  return { everyone: false, roles: [], users: [], kind: "info", title: "", body: "", linkKind: "", linkTarget: "" };
}

const LINK_HINTS: Record<LinkKind, string> = {
  series: "<source>:<metric>, e.g. host-1:cpu",
  class: "the class id, e.g. py101",
  student: "<class id>:<student id>, e.g. py101:ada",
  trace: "a trace id",
};

export function linkHint(kind: LinkKind | ""): string {
  return kind ? LINK_HINTS[kind] : "";
}

export function validateSend(form: SendForm): { body: NewNotification | null; errors: SendErrors } {
  const errors: SendErrors = {};
  if (!form.everyone && form.roles.length === 0 && form.users.length === 0) {
    errors.recipients = "Choose who gets it: everyone, a role or some users.";
  }
  const title = form.title.trim();
  if (!title) errors.title = "Enter a title.";
  else if (title.length > MAX_TITLE_CHARS) errors.title = `At most ${MAX_TITLE_CHARS} characters (now ${title.length}).`;
  if (form.body.length > MAX_BODY_CHARS) errors.body = `At most ${MAX_BODY_CHARS} characters (now ${form.body.length}).`;
  const target = form.linkTarget.trim();
  if (form.linkKind) {
    if (!target) errors.link = `Enter what it links to: ${LINK_HINTS[form.linkKind]}.`;
    else if ((form.linkKind === "series" || form.linkKind === "student") && !/^[^:]+:.+$/.test(target)) {
      errors.link = `Link it as ${LINK_HINTS[form.linkKind]}.`;
    } else if (target.length > 300) errors.link = "At most 300 characters.";
  }
  if (Object.keys(errors).length > 0) return { body: null, errors };
  const recipients: NewNotification["recipients"] = form.everyone
    ? { everyone: true }
    : { ...(form.roles.length ? { roles: [...form.roles] } : {}), ...(form.users.length ? { users: [...form.users] } : {}) };
  const body: NewNotification = { recipients, kind: form.kind, title };
  if (form.body.trim()) body.body = form.body;
  if (form.linkKind) body.link = { kind: form.linkKind, target };
  return { body, errors };
}

/** A refusal of the API as the form's errors: on its field when it names one. */
export function sendErrorsOf(error: unknown): SendErrors {
  if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
    const field = fieldOfError(error, [...SEND_FIELDS, "users", "roles", "everyone", "target"]);
    const placed: SendField | null =
      field === "users" || field === "roles" || field === "everyone" ? "recipients" : field === "target" ? "link" : (field as SendField | null);
    if (placed) return { [placed]: error.message };
  }
  return { form: errorMessage(error) };
}
