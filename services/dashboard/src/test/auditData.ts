/** Fixed audit records for the tests (not part of the bundle). */
import type { AccessRecord, StoredAccess, StoredStep, TaskStep, TraceItem } from "../audit/types";

export const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

export function accessRecord(fields: Partial<AccessRecord> = {}): AccessRecord {
  return {
    type: "access",
    key: "k".repeat(32),
    trace_id: TRACE,
    service: "gateway",
    method: "POST",
    route: "/api/v1/metrics/import",
    path: "/api/v1/metrics/import?format=csv",
    request_header: { authorization: "[redacted]" },
    request_body: null,
    response_status: 422,
    response_body: { code: "bad_row" },
    duration_ms: 12.5,
    ip_address: "10.0.0.7",
    user_id: "u-1",
    created_at: "2025-03-01T12:00:00.000100Z",
    ...fields,
  };
}

export function storedAccess(fields: Partial<StoredAccess> = {}): StoredAccess {
  const { type: _type, key: _key, ...rest } = accessRecord();
  return { ...rest, id: 1, request_body: null, response_body: null, ip_address: "10.0.0.7", user_id: "u-1", ...fields };
}

export function step(fields: Partial<StoredStep> = {}): StoredStep {
  return {
    id: 10,
    trace_id: TRACE,
    service: "ingest",
    task_id: "t1",
    task_name: "metrics.import",
    step_name: "metrics.import",
    status: "START",
    input_data: null,
    output_data: null,
    error_message: null,
    stack_trace: null,
    execution_order: 1,
    created_at: "2025-03-01T12:00:00Z",
    ...fields,
  };
}

export function liveStep(fields: Partial<TaskStep> = {}): TaskStep {
  const { id: _id, ...rest } = step();
  return { ...rest, type: "step", key: "s".repeat(32), input_data: null, output_data: null, ...fields };
}

export function stepItem(fields: Partial<StoredStep>): TraceItem {
  const s = step(fields);
  return { at: s.created_at, kind: "step", step: s };
}

export function accessItem(fields: Partial<StoredAccess>): TraceItem {
  const a = storedAccess(fields);
  return { at: a.created_at, kind: "access", access: a };
}
