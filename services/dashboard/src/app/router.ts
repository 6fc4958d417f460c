/**
 * A tiny hash router: #/, #/series/<source>/<name>[?range=15m | ?range=custom&from=<ms>&to=<ms>],
 * #/admin/users, #/admin/api-keys, #/classes, #/classes/<id>[?notebook=<path>&student=<id>],
 * #/my-progress, #/inbox[?state=unread|read|archived], #/admin/notify, #/alerts/rules,
 * #/admin/logs[?tab=tasks&<filters>], #/traces/<trace_id>, #/admin/dead-letters[?<filters>],
 * #/login. The series range, a class's notebook, the student drilled into and the audit pages'
 * filters (src/audit/filters.ts) live in the URL, so a reload or a shared link shows the same
 * view.
 */
import { useSyncExternalStore } from "react";
import { RANGES, type RangeSpec } from "../live/seriesView";
import { INBOX_STATES, type InboxState } from "../notifications/types";

export type Route =
  | { page: "overview" }
  | { page: "series"; source: string; name: string; range: RangeSpec }
  | { page: "users" }
  | { page: "apiKeys" }
  | { page: "classes" }
  | { page: "class"; classId: string; notebook: string | null; student: string | null }
  | { page: "myProgress" }
  | { page: "inbox"; state: InboxState }
  | { page: "notify" }
  | { page: "rules" }
  | { page: "logs"; tab: LogsTab; query: string }
  | { page: "trace"; traceId: string }
  | { page: "deadLetters"; query: string }
  | { page: "login" }
  | { page: "notFound"; hash: string };

export type LogsTab = "requests" | "tasks";

const DEFAULT_RANGE: RangeSpec = { id: "live5m" };

/** The range of `?range=…` (an unknown or incomplete one is the default, live 5 min). */
export function parseRange(query: string): RangeSpec {
  const params = new URLSearchParams(query);
  const id = params.get("range");
  const spec = RANGES.find((r) => r.id === id);
  if (!spec) return DEFAULT_RANGE;
  if (spec.id !== "custom") return { id: spec.id };
  const from = Number(params.get("from"));
  const to = Number(params.get("to"));
  if (!Number.isFinite(from) || !Number.isFinite(to) || from <= 0 || from >= to) return DEFAULT_RANGE;
  return { id: "custom", from, to };
}

export function parseHash(hash: string): Route {
  const [rawPath = "", query = ""] = hash.replace(/^#/, "").split("?", 2);
  const path = rawPath || "/";
  if (path === "/" || path === "") return { page: "overview" };
  if (path === "/login") return { page: "login" };
  if (path === "/admin/users") return { page: "users" };
  if (path === "/admin/api-keys") return { page: "apiKeys" };
  if (path === "/classes") return { page: "classes" };
  if (path === "/my-progress") return { page: "myProgress" };
  if (path === "/inbox") {
    const state = new URLSearchParams(query).get("state");
    return { page: "inbox", state: INBOX_STATES.find((s) => s === state) ?? "all" };
  }
  if (path === "/admin/notify") return { page: "notify" };
  if (path === "/alerts/rules") return { page: "rules" };
  if (path === "/admin/logs") {
    return { page: "logs", tab: new URLSearchParams(query).get("tab") === "tasks" ? "tasks" : "requests", query };
  }
  if (path === "/admin/dead-letters") return { page: "deadLetters", query };
  const trace = /^\/traces\/([^/]+)$/.exec(path);
  if (trace) {
    try {
      return { page: "trace", traceId: decodeURIComponent(trace[1]!) };
    } catch {
      return { page: "notFound", hash };
    }
  }
  const classPage = /^\/classes\/([^/]+)$/.exec(path);
  if (classPage) {
    try {
      const params = new URLSearchParams(query);
      return {
        page: "class",
        classId: decodeURIComponent(classPage[1]!),
        notebook: params.get("notebook") || null,
        student: params.get("student") || null,
      };
    } catch {
      return { page: "notFound", hash };
    }
  }
  const series = /^\/series\/([^/]+)\/([^/]+)$/.exec(path);
  if (series) {
    try {
      return {
        page: "series",
        source: decodeURIComponent(series[1]!),
        name: decodeURIComponent(series[2]!),
        range: parseRange(query),
      };
    } catch {
      return { page: "notFound", hash };
    }
  }
  return { page: "notFound", hash };
}

export function seriesHref(source: string, name: string, range: RangeSpec = DEFAULT_RANGE): string {
  const path = `#/series/${encodeURIComponent(source)}/${encodeURIComponent(name)}`;
  if (range.id === DEFAULT_RANGE.id) return path;
  if (range.id === "custom") return `${path}?range=custom&from=${range.from}&to=${range.to}`;
  return `${path}?range=${range.id}`;
}

export function classHref(classId: string, view: { notebook?: string | null; student?: string | null } = {}): string {
  const params = new URLSearchParams();
  if (view.notebook) params.set("notebook", view.notebook);
  if (view.student) params.set("student", view.student);
  const query = params.toString();
  return `#/classes/${encodeURIComponent(classId)}${query ? `?${query}` : ""}`;
}

export function inboxHref(state: InboxState = "all"): string {
  return state === "all" ? "#/inbox" : `#/inbox?state=${state}`;
}

export function navigate(hash: string, replace = false): void {
  if (replace) {
    const url = new URL(window.location.href);
    url.hash = hash;
    window.history.replaceState(null, "", url);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    window.location.hash = hash;
  }
}

function subscribe(listener: () => void): () => void {
  window.addEventListener("hashchange", listener);
  return () => window.removeEventListener("hashchange", listener);
}

function getHash(): string {
  return window.location.hash;
}

export function useHash(): string {
  return useSyncExternalStore(subscribe, getHash);
}
