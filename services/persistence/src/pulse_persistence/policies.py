"""TimescaleDB policies from settings: refresh of the rollups, compression, retention.

Applied at every start, so changed settings take effect: a policy whose setting changed is
replaced. Only called when the extension is present.
"""

from __future__ import annotations

import asyncpg

from .settings import PersistenceSettings

_REFRESH = {
    # rollup: (start_offset, end_offset, schedule_interval)
    "metrics_1m": ("2 hours", "1 minute", "1 minute"),
    "metrics_1h": ("3 days", "1 hour", "30 minutes"),
}


async def apply_policies(conn: asyncpg.Connection, settings: PersistenceSettings) -> None:
    for rollup, (start, end, every) in _REFRESH.items():
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", rollup):
            await conn.execute(
                "SELECT add_continuous_aggregate_policy($1::regclass,"
                " start_offset => $2::interval, end_offset => $3::interval,"
                " schedule_interval => $4::interval, if_not_exists => true)",
                rollup,
                start,
                end,
                every,
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
    for rollup in _REFRESH:
        if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", rollup):
            await _replace(
                conn,
                rollup,
                "remove_retention_policy",
                "add_retention_policy",
                "drop_after",
                seconds=settings.rollup_retention_s,
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
