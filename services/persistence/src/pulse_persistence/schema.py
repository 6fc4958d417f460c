"""Persistence's database schema: its migrations and the per-connection staging table."""

from __future__ import annotations

from importlib.resources import files

import asyncpg
from pulse_runtime.database import apply_migrations

from .classroom.writer import CREATE_STAGING as CREATE_EVENTS_STAGING

OWNER = "persistence"


async def migrate(conn: asyncpg.Connection) -> list[str]:
    return await apply_migrations(conn, OWNER, files("pulse_persistence") / "migrations")


async def prepare_connection(conn: asyncpg.Connection) -> None:
    """Each pooled connection gets its own staging tables (points, notebook events), emptied
    at every commit."""
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS metrics_staging"
        " (series_id integer, time_us bigint, value double precision) ON COMMIT DELETE ROWS"
    )
    await conn.execute(CREATE_EVENTS_STAGING)
