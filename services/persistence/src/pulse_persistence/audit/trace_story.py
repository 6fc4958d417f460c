"""``rpc.audit.trace``: everything recorded under one trace id — the access records of its
requests, the steps of the tasks it started, the dead letters it left — in time order, at most
:data:`~pulse_contracts.audit.MAX_TRACE_ITEMS` (the earliest; ``truncated`` then).

Three indexed lookups by ``trace_id``, merged here: the same on PostgreSQL and TimescaleDB.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from pulse_contracts import RpcError
from pulse_contracts.audit import MAX_TRACE_ITEMS, GetTrace, TraceItem, TraceStory
from pulse_runtime.database import acquired

from .access_search import ACCESS_COLUMNS, stored_access
from .dead_letter_queue import LETTER_COLUMNS, stored_letter
from .step_rows import STEP_COLUMNS, stored_step

_KIND_ORDER = {"access": 0, "step": 1, "dead_letter": 2}
"""At the same instant: the request first, then what it started, then what was refused."""


async def trace_story(pool: asyncpg.Pool, request: GetTrace) -> TraceStory | RpcError:
    cap = MAX_TRACE_ITEMS + 1
    async with acquired(pool) as conn:
        access = await conn.fetch(
            f"SELECT {ACCESS_COLUMNS} FROM audit_access WHERE trace_id = $1"
            " ORDER BY created_at, id LIMIT $2",
            request.trace_id,
            cap,
        )
        steps = await conn.fetch(
            f"SELECT {STEP_COLUMNS} FROM audit_task_steps WHERE trace_id = $1"
            " ORDER BY created_at, id LIMIT $2",
            request.trace_id,
            cap,
        )
        letters = await conn.fetch(
            f"SELECT {LETTER_COLUMNS} FROM audit_dead_letters WHERE trace_id = $1"
            " ORDER BY received_at, id LIMIT $2",
            request.trace_id,
            cap,
        )
    items = [
        TraceItem(at=row["created_at"], kind="access", access=stored_access(row)) for row in access
    ]
    items += [TraceItem(at=row["created_at"], kind="step", step=stored_step(row)) for row in steps]
    items += [
        TraceItem(at=row["received_at"], kind="dead_letter", dead_letter=stored_letter(row))
        for row in letters
    ]
    if not items:
        return RpcError(
            code="trace_not_found", message=f"nothing recorded in trace {request.trace_id}"
        )
    items.sort(key=_order)
    return TraceStory(
        trace_id=request.trace_id,
        items=items[:MAX_TRACE_ITEMS],
        truncated=len(items) > MAX_TRACE_ITEMS,
    )


def _order(item: TraceItem) -> tuple[datetime, int, int, int]:
    # A task's steps often share an instant: within one run, its own order decides.
    if item.step is not None:
        return item.at, _KIND_ORDER[item.kind], item.step.execution_order, item.step.id
    record = item.access or item.dead_letter
    assert record is not None
    return item.at, _KIND_ORDER[item.kind], 0, record.id
