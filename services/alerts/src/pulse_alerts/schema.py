"""The alerts service's database schema: its migrations."""

from __future__ import annotations

from importlib.resources import files

import asyncpg
from pulse_runtime.database import apply_migrations

OWNER = "alerts"


async def migrate(conn: asyncpg.Connection) -> list[str]:
    return await apply_migrations(conn, OWNER, files("pulse_alerts") / "migrations")
