"""How long the audit trail is kept: every ``retention_interval_s``, rows past their retention
are deleted, in bounded batches (no long transaction, however large the backlog), as a task
(``audit_retention``) with a step per table and the rows it deleted.

- ``audit_access`` and ``audit_task_steps``: rows older than ``PULSE_AUDIT_RETENTION_S``, on
  plain PostgreSQL. On TimescaleDB they are hypertables, whose retention policy drops whole
  chunks (:func:`pulse_persistence.policies.apply_audit_policies`): no step for them here.
- ``audit_dead_letters``: letters replayed or discarded longer ago than
  ``PULSE_AUDIT_DEADLETTER_RETENTION_S`` (a pending letter is kept until someone decides).

With several replicas, one sweeps at a time (an advisory lock); the others skip the round.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

import asyncpg
from pulse_runtime.audit import TaskLog
from pulse_runtime.database import acquired
from pulse_runtime.logging import get_logger
from pulse_runtime.settings import AuditSettings

log = get_logger(__name__)

SWEEP_LOCK = 0x70756C7365_0016  # pg_advisory_lock key: "pulse", issue 16
TASK_NAME = "audit_retention"

_DELETE_OLD = {
    "audit_access": """
        DELETE FROM audit_access WHERE (key, created_at) IN (
            SELECT key, created_at FROM audit_access WHERE created_at < $1 LIMIT $2)
    """,
    "audit_task_steps": """
        DELETE FROM audit_task_steps WHERE (key, created_at) IN (
            SELECT key, created_at FROM audit_task_steps WHERE created_at < $1 LIMIT $2)
    """,
    "audit_dead_letters": """
        DELETE FROM audit_dead_letters WHERE id IN (
            SELECT id FROM audit_dead_letters
            WHERE status <> 'pending' AND coalesce(discarded_at, replayed_at, stored_at) < $1
            LIMIT $2)
    """,
}


class AuditRetention:
    def __init__(
        self,
        pool: asyncpg.Pool,
        tasks: TaskLog,
        settings: AuditSettings,
        *,
        timescale: bool,
        stopping: asyncio.Event,
    ) -> None:
        self._pool = pool
        self._tasks = tasks
        self._settings = settings
        self._timescale = timescale
        self._stopping = stopping
        self._task: asyncio.Task[None] | None = None

    def tables(self) -> dict[str, float]:
        """The tables this sweep deletes from, with each one's retention in seconds."""
        kept: dict[str, float] = {}
        if not self._timescale and self._settings.retention_s > 0:
            kept["audit_access"] = self._settings.retention_s
            kept["audit_task_steps"] = self._settings.retention_s
        if self._settings.deadletter_retention_s > 0:
            kept["audit_dead_letters"] = self._settings.deadletter_retention_s
        return kept

    def start(self) -> None:
        if self.tables():
            self._task = asyncio.create_task(self._run(), name="audit-retention")

    async def stop(self) -> None:
        """Once ``stopping`` is set: the sweep in hand ends after its current batch."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sweep()
            except Exception:  # the database away: the next round tries again
                log.exception("audit retention sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._settings.retention_interval_s)

    async def sweep(self) -> dict[str, int] | None:
        """One round; the rows deleted per table, or None when another replica holds it."""
        async with acquired(self._pool) as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", SWEEP_LOCK):
                return None
            try:
                return await self._sweep(conn)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", SWEEP_LOCK)

    async def _sweep(self, conn: asyncpg.Connection) -> dict[str, int]:
        now = datetime.now(UTC)
        tables = self.tables()
        deleted: dict[str, int] = {}
        async with self._tasks.task(
            TASK_NAME,
            input_data={"retention_s": tables, "batch_rows": self._settings.retention_batch_rows},
        ) as task:
            for table, retention_s in tables.items():
                cutoff = now - timedelta(seconds=retention_s)
                async with task.step(table, input_data={"older_than": cutoff}) as step:
                    deleted[table] = await self._delete(conn, table, cutoff)
                    step.output_data = {"rows_deleted": deleted[table]}
            task.output_data = {"rows_deleted": sum(deleted.values())}
        if any(deleted.values()):
            log.info("audit retention", **deleted)
        return deleted

    async def _delete(self, conn: asyncpg.Connection, table: str, cutoff: datetime) -> int:
        batch = self._settings.retention_batch_rows
        total = 0
        while True:
            status = await conn.execute(_DELETE_OLD[table], cutoff, batch)
            count = int(status.rsplit(" ", 1)[-1])
            total += count
            if count < batch or self._stopping.is_set():
                return total
