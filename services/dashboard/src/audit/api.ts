/**
 * The audit pages' REST calls: the app's one API client (its access token, refresh and retry),
 * typed by the audit routes, and the TanStack Query keys they share.
 */
import type { Client } from "openapi-fetch";
import { getServices } from "../app/services";
import type { AuditPaths } from "./types";

export type AuditApi = Client<AuditPaths, "application/json">;

/** The app's client, typed by the audit routes. TEMPORARY cast: after the merge the generated
 * `paths` hold these routes and `getServices().api` is used as it is (./types.ts). */
export function auditApi(): AuditApi {
  return getServices().api as unknown as AuditApi;
}

/** Rows asked for per page. */
export const PAGE_LIMIT = 50;

export const auditKeys = {
  all: ["audit"] as const,
  access: (query: object) => ["audit", "access", query] as const,
  tasks: (query: object) => ["audit", "tasks", query] as const,
  trace: (traceId: string) => ["audit", "trace", traceId] as const,
  deadLetters: ["audit", "dead-letters"] as const,
  deadLetterList: (query: object) => ["audit", "dead-letters", "list", query] as const,
  deadLetter: (id: number) => ["audit", "dead-letters", "show", id] as const,
};
