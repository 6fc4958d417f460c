/**
 * The live tail of the access log: records from the `logs` channel that match the page's
 * filters, newest first, put above the stored ones, at most `TAIL_CAP` kept (a busy gateway
 * publishes many a second; the oldest fall off the end, and the stored pages still have them).
 *
 * A live record matches as the API's search would: a status code or class, the method, the
 * path or route by prefix, the user, ip, trace id and service exactly, and the time range.
 */
import { instantUs } from "./timeline";
import type { AccessQuery, AccessRecord, LogRecord, StoredAccess } from "./types";

export const TAIL_CAP = 500;

/** A row of the requests table: a stored record (with its id) or a live one (its key). */
export interface AccessRow {
  rowKey: string;
  live: boolean;
  record: Omit<StoredAccess, "id"> & { id?: number };
}

export function storedRow(record: StoredAccess): AccessRow {
  return { rowKey: `id-${record.id}`, live: false, record };
}

export function liveRow(record: AccessRecord): AccessRow {
  return {
    rowKey: `key-${record.key}`,
    live: true,
    record: {
      ...record,
      request_body: record.request_body ?? null,
      response_body: record.response_body ?? null,
      ip_address: record.ip_address ?? null,
      user_id: record.user_id ?? null,
    },
  };
}

export function isAccess(record: LogRecord): record is AccessRecord {
  return record.type === "access";
}

/** Whether a live access record is one the search `query` would find. */
export function matchesAccess(record: AccessRecord, query: AccessQuery): boolean {
  if (query.status !== undefined) {
    const status = record.response_status;
    if (query.status < 10 ? Math.floor(status / 100) !== query.status : status !== query.status) return false;
  }
  if (query.method !== undefined && record.method.toUpperCase() !== query.method.toUpperCase()) return false;
  if (query.path !== undefined && !record.path.startsWith(query.path) && !record.route.startsWith(query.path)) {
    return false;
  }
  if (query.user_id !== undefined && record.user_id !== query.user_id) return false;
  if (query.ip_address !== undefined && record.ip_address !== query.ip_address) return false;
  if (query.trace_id !== undefined && record.trace_id !== query.trace_id) return false;
  if (query.service !== undefined && record.service !== query.service) return false;
  if (query.since !== undefined || query.until !== undefined) {
    const at = instantUs(record.created_at);
    if (Number.isNaN(at)) return false;
    if (query.since !== undefined && at < instantUs(query.since)) return false;
    if (query.until !== undefined && at >= instantUs(query.until)) return false;
  }
  return true;
}

/** The tail after a batch of live records (oldest first, as published): the matching access
 * records put on top, newest first, without repeats, at most `cap`. */
export function prependLive(tail: AccessRow[], records: LogRecord[], query: AccessQuery, cap = TAIL_CAP): AccessRow[] {
  const known = new Set(tail.map((row) => row.rowKey));
  const fresh: AccessRow[] = [];
  for (const record of records) {
    if (!isAccess(record) || !matchesAccess(record, query)) continue;
    const row = liveRow(record);
    if (known.has(row.rowKey)) continue;
    known.add(row.rowKey);
    fresh.push(row);
  }
  if (fresh.length === 0) return tail;
  fresh.reverse();
  return [...fresh, ...tail].slice(0, cap);
}
