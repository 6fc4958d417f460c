"""``rpc.audit.tasks``: task runs, newest first — each run found by its ``START`` step, with its
step count, its latest status and the last error it recorded.

A run's status is its final step's (named after the task: ``SUCCESS`` or ``FAILED``) once it
ended, and ``IN_PROGRESS`` until then. Plain SQL (lateral joins on ``(task_id,
execution_order)``), the same on PostgreSQL and TimescaleDB.
"""

from __future__ import annotations

import asyncpg
from pulse_contracts.audit import SearchTasks, TaskPage, TaskRun
from pulse_runtime.database import acquired

from .cursor import cursor_after, position_of
from .filters import Where, time_range

_RUNS = """
WITH runs AS (
    SELECT s.id, s.task_id, s.task_name, s.service, s.trace_id, s.created_at AS started_at,
           steps.count AS steps, steps.updated_at, error.error_message,
           CASE WHEN final.step_name = s.task_name AND final.status IN ('SUCCESS', 'FAILED')
                THEN final.status ELSE 'IN_PROGRESS' END AS status
    FROM audit_task_steps s
    CROSS JOIN LATERAL (
        SELECT count(*) AS count, max(created_at) AS updated_at
        FROM audit_task_steps t WHERE t.task_id = s.task_id
    ) steps
    CROSS JOIN LATERAL (
        SELECT step_name, status FROM audit_task_steps t
        WHERE t.task_id = s.task_id ORDER BY execution_order DESC, id DESC LIMIT 1
    ) final
    LEFT JOIN LATERAL (
        SELECT error_message FROM audit_task_steps t
        WHERE t.task_id = s.task_id AND error_message IS NOT NULL
        ORDER BY execution_order DESC, id DESC LIMIT 1
    ) error ON true
    WHERE s.status = 'START' AND {where}
)
SELECT * FROM runs WHERE {status}
ORDER BY started_at DESC, id DESC LIMIT {limit}
"""


async def search_tasks(pool: asyncpg.Pool, search: SearchTasks) -> TaskPage:
    """Raises :class:`~.cursor.BadCursor` or :class:`~.filters.BadFilter`."""
    where = Where()
    time_range(where, "s.created_at", search.since, search.until)
    if search.task_name is not None:
        where.add("s.task_name = {}", search.task_name)
    if search.cursor is not None:
        at, row_id = position_of("tasks", search.cursor)
        where.add("(s.created_at, s.id) < ({}, {})", at, row_id)
    status = Where()
    status.values = where.values  # one parameter list for the whole statement
    if search.status is not None:
        status.add("status = {}", search.status)
    query = _RUNS.format(
        where=where.sql(), status=status.sql(), limit=where.param(search.limit + 1)
    )
    async with acquired(pool) as conn:
        rows = await conn.fetch(query, *where.values)
    items = [
        TaskRun(
            task_id=row["task_id"].hex,
            task_name=row["task_name"],
            service=row["service"],
            trace_id=row["trace_id"],
            status=row["status"],
            steps=row["steps"],
            started_at=row["started_at"],
            updated_at=row["updated_at"],
            error_message=row["error_message"],
        )
        for row in rows[: search.limit]
    ]
    more = len(rows) > search.limit
    last = rows[search.limit - 1] if more else None
    return TaskPage(
        items=items,
        next_cursor=cursor_after("tasks", last["id"], last["started_at"]) if last else None,
    )
