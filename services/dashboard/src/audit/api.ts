/**
 * The audit pages' REST calls go through the app's one API client (its access token, refresh
 * and retry; the routes typed by gateway.gen.ts); here are the TanStack Query keys they share.
 */
import { getServices } from "../app/services";

export function auditApi() {
  return getServices().api;
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
