"""Fixed audit rows written straight into migration 0006's tables (``audit_access``,
``audit_task_steps``, ``audit_dead_letters``), so that each audit view's answer can be checked
exactly."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

T0 = datetime(2026, 12, 1, 14, 2, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def insert_access(
    conn: asyncpg.Connection,
    *,
    second: float,
    trace_id: str,
    status: int = 200,
    method: str = "GET",
    route: str = "/api/v1/metrics/{name:str}",
    path: str = "/api/v1/metrics/cpu",
    user_id: str | None = "u1",
    ip_address: str | None = "10.0.0.1",
    service: str = "gateway",
) -> int:
    row_id: int = await conn.fetchval(
        "INSERT INTO audit_access (key, created_at, trace_id, service, method, route, path,"
        " request_header, request_body, response_status, response_body, duration_ms,"
        " ip_address, user_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9, $10, 1.5,"
        " $11, $12) RETURNING id",
        uuid.uuid4(),
        at(second),
        trace_id,
        service,
        method,
        route,
        path,
        '{"accept": "application/json"}',
        status,
        msgspec.json.encode({"status": status}).decode(),
        ip_address,
        user_id,
    )
    return row_id


async def insert_step(
    conn: asyncpg.Connection,
    *,
    second: float,
    trace_id: str,
    task_id: str,
    task_name: str,
    step_name: str,
    status: str,
    order: int,
    error: str | None = None,
    service: str = "ingest",
) -> int:
    row_id: int = await conn.fetchval(
        "INSERT INTO audit_task_steps (key, created_at, trace_id, service, task_id, task_name,"
        " step_name, status, input_data, error_message, execution_order)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        uuid.uuid4(),
        at(second),
        trace_id,
        service,
        uuid.UUID(task_id),
        task_name,
        step_name,
        status,
        '{"line": 1}',
        error,
        order,
    )
    return row_id


async def insert_letter(
    conn: asyncpg.Connection,
    *,
    second: float,
    origin: str,
    data: bytes,
    trace_id: str | None = None,
    reason: str = "refused",
    headers: dict[str, str] | None = None,
    status: str = "pending",
) -> int:
    row_id: int = await conn.fetchval(
        "INSERT INTO audit_dead_letters (key, origin, reason, data, headers, trace_id,"
        " received_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        hashlib.blake2b(uuid.uuid4().bytes, digest_size=16).digest(),
        origin,
        reason,
        data,
        msgspec.json.encode(headers or {}).decode(),
        trace_id,
        at(second),
        status,
    )
    return row_id
