"""The operators' CLI (the installed `pulse` console script): users, API keys, and a plain
answer when the database is unreachable."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pulse_dev.embedded import free_port

pytestmark = pytest.mark.integration

# The installed console script (the `pulse` entry point of pulse-auth), as operators run it.
PULSE_CLI = shutil.which("pulse", path=str(Path(sys.executable).parent))


def test_cli_creates_users_and_api_keys(database_url: str) -> None:
    assert PULSE_CLI is not None, "the pulse console script is not installed next to python"
    env = {"PULSE_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    pulse = [PULSE_CLI]
    created = subprocess.run(
        [
            *pulse,
            "users",
            "create",
            "--email",
            "ops@pulse.test",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input="long enough password\n",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "ops@pulse.test  admin" in created.stdout
    assert "long enough password" not in created.stdout + created.stderr
    too_short = subprocess.run(
        [*pulse, "users", "create", "--email", "x@pulse.test", "--password-stdin"],
        input="short\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert too_short.returncode != 0
    assert "length >= 12" in too_short.stderr
    key = subprocess.run(
        [*pulse, "apikeys", "create", "--name", "sensor-7", "--scope", "ingest:metrics"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "secret (shown only now): pk_" in key.stdout
    listed = subprocess.run(
        [*pulse, "apikeys", "list"], env=env, capture_output=True, text=True, check=True
    )
    assert "sensor-7" in listed.stdout
    assert "pk_" not in listed.stdout


def test_cli_says_plainly_when_the_database_is_unreachable() -> None:
    assert PULSE_CLI is not None, "the pulse console script is not installed next to python"
    url = f"postgresql://ops:hunter2-secret@127.0.0.1:{free_port()}/pulse"
    result = subprocess.run(
        [PULSE_CLI, "users", "list"],
        env={"PULSE_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("pulse: cannot reach the database at 127.0.0.1:")
    assert "Traceback" not in result.stderr
    assert "hunter2-secret" not in result.stderr
