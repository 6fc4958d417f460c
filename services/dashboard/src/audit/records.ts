/**
 * How the audit pages read a record: a stored body (JSON, or one of the markers the recorder
 * puts in place of a body that was not JSON, too big or binary), a status's colour, a
 * duration.
 */

export type BodyView =
  | { kind: "none" }
  | { kind: "json"; text: string }
  | { kind: "text"; text: string }
  | { kind: "truncated"; bytes: number | null; text: string }
  | { kind: "binary"; bytes: number | null; contentType: string | null };

function only(value: object, key: string): unknown {
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === key ? (value as Record<string, unknown>)[key] : undefined;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** A stored body as text to show (never markup: the pages put it in a <pre> as text). */
export function describeBody(value: unknown): BodyView {
  if (value === null || value === undefined) return { kind: "none" };
  if (typeof value === "object" && !Array.isArray(value)) {
    const text = only(value, "$text");
    if (typeof text === "string") return { kind: "text", text };
    const truncated = only(value, "$truncated");
    if (truncated && typeof truncated === "object") {
      const t = truncated as Record<string, unknown>;
      return { kind: "truncated", bytes: numberOrNull(t.bytes), text: typeof t.preview === "string" ? t.preview : "" };
    }
    const binary = only(value, "$binary");
    if (binary && typeof binary === "object") {
      const b = binary as Record<string, unknown>;
      return {
        kind: "binary",
        bytes: numberOrNull(b.bytes),
        contentType: typeof b.content_type === "string" ? b.content_type : null,
      };
    }
  }
  return { kind: "json", text: JSON.stringify(value, null, 2) };
}

export type StatusTone = "ok" | "redirect" | "client" | "server" | "other";

export function statusTone(status: number): StatusTone {
  if (status >= 200 && status < 300) return "ok";
  if (status >= 300 && status < 400) return "redirect";
  if (status >= 400 && status < 500) return "client";
  if (status >= 500 && status < 600) return "server";
  return "other";
}

/** 0.4 ms, 12 ms, 1.25 s, 3 min 4 s. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  if (minutes < 60) return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
}

/** Time of day with milliseconds (records of one request are milliseconds apart). */
export function formatClock(iso: string): string {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
