"""``PULSE_TEST_DATABASE_URL`` makes the suite run against an existing PostgreSQL server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from pulse_dev.embedded import EmbeddedPostgres

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXTERNAL = os.environ.get("PULSE_TEST_DATABASE_URL")  # noqa: TID251 - test configuration
# A slice of the suite that touches the database in every way it is used.
REPRESENTATIVE = [
    "libs/tests/test_migrations.py",
    "services/persistence/tests/test_storage.py",
    "tests/e2e/test_pipeline.py::test_json_and_msgpack_points_come_back_from_rest_history",
    "tests/e2e/test_external_database.py::test_databases_live_on_the_given_server",
]


@pytest.mark.skipif(EXTERNAL is None, reason="runs inside the run that sets the variable")
async def test_databases_live_on_the_given_server(database_url: str) -> None:
    assert EXTERNAL is not None
    given = urlsplit(EXTERNAL)
    assert urlsplit(database_url).port == given.port
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT inet_server_port()") == given.port
    finally:
        await conn.close()


@pytest.mark.skipif(EXTERNAL is not None, reason="already running against an external server")
def test_suite_runs_against_an_existing_server(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path / "existing", database="postgres") as existing:
        env = {**os.environ, "PULSE_TEST_DATABASE_URL": existing.url}  # noqa: TID251
        result = subprocess.run(
            # Its own basetemp: pytest prunes old temp dirs, which would include this one's.
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                f"--basetemp={tmp_path / 'inner'}",
                *REPRESENTATIVE,
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = result.stdout.strip().splitlines()[-1]
    assert "skipped" not in summary, summary
    assert " passed" in summary, summary
