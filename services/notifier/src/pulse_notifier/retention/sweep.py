"""Retention: archived notifications expire ``archived_retention_days`` after they were
archived, read ones ``read_retention_days`` after they were read (0 keeps them).

Neither counts as unread, so deleting them changes no counter and publishes no change: a
device that lists the inbox again simply no longer finds them. Every replica sweeps on its own;
deleting is idempotent, and the batches are small so that no user's marks wait long behind
them.

Each round is a task (``notifications_retention``) with a step per kind and the rows it
deleted, in the task log (docs/audit.md).
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from pulse_runtime.audit import TaskLog
from pulse_runtime.database import DATABASE_AWAY
from pulse_runtime.logging import get_logger

log = get_logger(__name__)

SWEEP_BATCH = 5000
TASK_NAME = "notifications_retention"

_EXPIRED = {
    "archived": "archived_at IS NOT NULL AND archived_at < now() - make_interval(days => $1::int)",
    "read": "read_at IS NOT NULL AND archived_at IS NULL"
    " AND read_at < now() - make_interval(days => $1::int)",
}


async def sweep(
    pool: asyncpg.Pool, tasks: TaskLog, *, archived_days: int, read_days: int
) -> dict[str, int]:
    """Delete what has expired, as a task with a step per kind; how many of each were
    deleted."""
    kept = {"archived": archived_days, "read": read_days}
    deleted = dict.fromkeys(kept, 0)
    if not any(kept.values()):
        return deleted
    async with tasks.task(TASK_NAME, input_data={"retention_days": kept}) as task:
        for what, days in kept.items():
            if days <= 0:
                continue
            async with task.step(what, input_data={"older_than_days": days}) as step:
                deleted[what] = await _delete(pool, what, days)
                step.output_data = {"rows_deleted": deleted[what]}
        task.output_data = {"rows_deleted": sum(deleted.values())}
    return deleted


async def _delete(pool: asyncpg.Pool, what: str, days: int) -> int:
    total = 0
    while True:
        status = await pool.execute(
            f"DELETE FROM notify.notifications WHERE id IN ("  # noqa: S608 - constant
            f" SELECT id FROM notify.notifications WHERE {_EXPIRED[what]} LIMIT $2)",
            days,
            SWEEP_BATCH,
        )
        count = int(status.rsplit(" ", 1)[-1])
        total += count
        if count < SWEEP_BATCH:
            return total


async def sweep_forever(
    pool: asyncpg.Pool,
    tasks: TaskLog,
    stopping: asyncio.Event,
    *,
    archived_days: int,
    read_days: int,
    interval_s: float,
) -> None:
    while not stopping.is_set():
        try:
            deleted = await sweep(pool, tasks, archived_days=archived_days, read_days=read_days)
        except DATABASE_AWAY as exc:
            log.warning("retention sweep: database unavailable", error=str(exc))
        else:
            if any(deleted.values()):
                log.info("expired notifications deleted", **deleted)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval_s)
