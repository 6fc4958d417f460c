"""TimescaleDB policies from settings: refresh of the rollups, compression, retention.

Applied at every start, so changed settings take effect: a policy whose setting changed is
replaced. Only called when the extension is present.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import msgspec
from pulse_runtime.settings import AuditSettings

from .settings import PersistenceSettings

AUDIT_HYPERTABLES = ("audit_access", "audit_task_steps")


class RefreshPolicy(msgspec.Struct, frozen=True):
    """How a rollup follows new rows: every ``schedule``, the buckets between ``start`` and
    ``end`` ago are materialised. Older rows arriving later (backfill) are outside that window:
    :mod:`.backfill` refreshes their buckets after the commit that wrote them."""

    start: timedelta
    end: timedelta
    schedule: timedelta


REFRESH = {
    "metrics_1m": RefreshPolicy(timedelta(hours=2), timedelta(minutes=1), timedelta(minutes=1)),
    "metrics_1h": RefreshPolicy(timedelta(days=3), timedelta(hours=1), timedelta(minutes=30)),
}


async def apply_policies(conn: asyncpg.Connection, settings: PersistenceSettings) -> None:
    for rollup, policy in REFRESH.items():
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", rollup):
            # asyncpg sends an interval from a timedelta (a string would be refused).
            await conn.execute(
                "SELECT add_continuous_aggregate_policy($1::regclass,"
                " start_offset => $2::interval, end_offset => $3::interval,"
                " schedule_interval => $4::interval, if_not_exists => true)",
                rollup,
                policy.start,
                policy.end,
                policy.schedule,
            )
    await _replace(
        conn,
        "metrics",
        "remove_compression_policy",
        "add_compression_policy",
        "compress_after",
        seconds=settings.compress_after_s,
    )
    await _replace(
        conn,
        "metrics",
        "remove_retention_policy",
        "add_retention_policy",
        "drop_after",
        seconds=settings.retention_s,
    )
    for rollup in REFRESH:
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", rollup):
            await _replace(
                conn,
                rollup,
                "remove_retention_policy",
                "add_retention_policy",
                "drop_after",
                seconds=settings.rollup_retention_s,
            )


async def apply_audit_policies(conn: asyncpg.Connection, settings: AuditSettings) -> None:
    """The audit hypertables' retention (``PULSE_AUDIT_RETENTION_S``): whole chunks older than
    it are dropped by TimescaleDB's own job."""
    for table in AUDIT_HYPERTABLES:
        await _replace(
            conn,
            table,
            "remove_retention_policy",
            "add_retention_policy",
            "drop_after",
            seconds=round(settings.retention_s),
        )


async def _replace(
    conn: asyncpg.Connection,
    relation: str,
    remove: str,
    add: str,
    argument: str,
    *,
    seconds: int,
) -> None:
    """Drop the policy, then add it again with ``seconds`` (0 means none)."""
    await conn.execute(f"SELECT {remove}($1::regclass, if_exists => true)", relation)
    if seconds > 0:
        await conn.execute(
            f"SELECT {add}($1::regclass, {argument} => make_interval(secs => $2))",
            relation,
            float(seconds),
        )
