"""The database a benchmark runs against: ``PULSE_BENCH_DATABASE_URL``, or its own."""

from __future__ import annotations

import os
from pathlib import Path

from pulse_dev.embedded import EmbeddedPostgres

from tests.support.stack import create_database


async def bench_database(work: Path) -> tuple[str, EmbeddedPostgres | None]:
    """A fresh database, and the embedded server to stop afterwards (None when external)."""
    external = os.environ.get("PULSE_BENCH_DATABASE_URL")  # noqa: TID251
    postgres = None if external else EmbeddedPostgres(work / "postgres")
    if postgres is not None:
        postgres.start()
    server_url = external or (postgres.url if postgres else "")
    return await create_database(server_url), postgres
