"""Access records and task steps into ``audit_access`` and ``audit_task_steps``: one
transaction per batch of LOGS messages, each record stored once (its ``key``: a batch
delivered twice, or published again from a spool, adds nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec
from pulse_contracts.audit import AccessRecord, LogBatch, TaskStep
from pulse_runtime.database import acquired

_INSERT_ACCESS = """
INSERT INTO audit_access (key, created_at, trace_id, service, method, route, path,
                          request_header, request_body, response_status, response_body,
                          duration_ms, ip_address, user_id, frames_in, frames_out, close_code)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[],
                     $6::text[], $7::text[], $8::jsonb[], $9::jsonb[], $10::smallint[],
                     $11::jsonb[], $12::float8[], $13::text[], $14::text[], $15::int[],
                     $16::int[], $17::int[])
ON CONFLICT (key, created_at) DO NOTHING
"""

_INSERT_STEPS = """
INSERT INTO audit_task_steps (key, created_at, trace_id, service, task_id, task_name,
                              step_name, status, input_data, output_data, error_message,
                              stack_trace, execution_order)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::uuid[],
                     $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::jsonb[],
                     $11::text[], $12::text[], $13::int[])
ON CONFLICT (key, created_at) DO NOTHING
"""

_json = msgspec.json.Encoder()


class StoredCounts(msgspec.Struct, frozen=True):
    access: int
    steps: int


class RecordWriter:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def write(self, batches: Sequence[LogBatch]) -> StoredCounts:
        """Store every record of ``batches`` in one transaction; returns how many were new."""
        access: list[AccessRecord] = []
        steps: list[TaskStep] = []
        for batch in batches:
            for record in batch.records:
                if isinstance(record, AccessRecord):
                    access.append(record)
                else:
                    steps.append(record)
        new_access = new_steps = 0
        async with acquired(self._pool) as conn, conn.transaction():
            if access:
                status = await conn.execute(_INSERT_ACCESS, *_access_columns(access))
                new_access = int(status.rsplit(" ", 1)[-1])
            if steps:
                status = await conn.execute(_INSERT_STEPS, *_step_columns(steps))
                new_steps = int(status.rsplit(" ", 1)[-1])
        return StoredCounts(access=new_access, steps=new_steps)


def _access_columns(records: list[AccessRecord]) -> list[list[Any]]:
    return [
        [r.key for r in records],
        [r.created_at for r in records],
        [text(r.trace_id) for r in records],
        [text(r.service) for r in records],
        [text(r.method) for r in records],
        [text(r.route) for r in records],
        [text(r.path) for r in records],
        [json_text(r.request_header) for r in records],
        [json_text(r.request_body) for r in records],
        [r.response_status for r in records],
        [json_text(r.response_body) for r in records],
        [r.duration_ms for r in records],
        [optional_text(r.ip_address) for r in records],
        [optional_text(r.user_id) for r in records],
        [r.frames_in for r in records],
        [r.frames_out for r in records],
        [r.close_code for r in records],
    ]


def _step_columns(records: list[TaskStep]) -> list[list[Any]]:
    return [
        [r.key for r in records],
        [r.created_at for r in records],
        [text(r.trace_id) for r in records],
        [text(r.service) for r in records],
        [r.task_id for r in records],
        [text(r.task_name) for r in records],
        [text(r.step_name) for r in records],
        [r.status for r in records],
        [json_text(r.input_data) for r in records],
        [json_text(r.output_data) for r in records],
        [optional_text(r.error_message) for r in records],
        [optional_text(r.stack_trace) for r in records],
        [r.execution_order for r in records],
    ]


def text(value: str) -> str:
    """PostgreSQL's text takes no NUL character."""
    return value.replace("\x00", "")


def optional_text(value: str | None) -> str | None:
    return None if value is None else text(value)


def json_text(value: Any) -> str | None:
    """``value`` as ``jsonb`` input: NUL characters (which ``jsonb`` refuses, even escaped)
    removed from every string; None stays SQL NULL."""
    if value is None:
        return None
    return _json.encode(_without_nul(value)).decode()


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {str(key).replace("\x00", ""): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value
