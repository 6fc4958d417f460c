"""README.md's settings table lists every ``PULSE_*`` variable the code reads, and no other.

The variables are collected the way the code reads them: each service's ``Settings.from_environ``
(and the devstack supervisor's ``load_settings(DevStackSettings, "PULSE_", …)``) is given an
environment that records every name looked up: ``load_settings`` reads ``prefix + FIELD`` for
each field of each settings Struct, so a new field, or a new Struct, shows up here by itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from pulse_alerts.settings import Settings as AlertsSettings
from pulse_auth.settings import Settings as AuthSettings
from pulse_dev.devstack import DevStackSettings
from pulse_gateway.settings import Settings as GatewaySettings
from pulse_generator.settings import Settings as GeneratorSettings
from pulse_ingest.settings import Settings as IngestSettings
from pulse_notifier.settings import Settings as NotifierSettings
from pulse_persistence.settings import Settings as PersistenceSettings
from pulse_runtime.settings import load_settings

README = Path(__file__).resolve().parents[2] / "README.md"

# In the table although no settings Struct reads them (each with the reason).
DOCUMENTED_ELSEWHERE_READ = {
    "PULSE_TEST_DATABASE_URL": "read by conftest.py: the test suite's own configuration",
}


class _RecordingEnviron(Mapping[str, str]):
    """An empty environment that remembers every variable asked for."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def variables_read_by_the_code() -> set[str]:
    environ = _RecordingEnviron()
    for settings in (
        AlertsSettings,
        AuthSettings,
        GatewaySettings,
        GeneratorSettings,
        IngestSettings,
        NotifierSettings,
        PersistenceSettings,
    ):
        settings.from_environ(environ)
    load_settings(DevStackSettings, "PULSE_", environ)  # as pulse_dev.devstack.main
    return environ.asked


def variables_in_the_readme_table() -> set[str]:
    """Every `PULSE_…` name in the first column of the table under "## Settings"."""
    section = README.read_text().split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`(PULSE_[A-Z0-9_]+)`", first_cell))
    return names


def test_the_collector_sees_every_settings_struct() -> None:
    read = variables_read_by_the_code()
    for expected in (
        "PULSE_NATS_URL",  # CommonSettings
        "PULSE_DATABASE_URL",  # DatabaseSettings
        "PULSE_ADMIN_EMAIL",  # AdminSettings
        "PULSE_AUTH_POOL_SIZE",
        "PULSE_GATEWAY_PORT",
        "PULSE_WS_HEARTBEAT_S",
        "PULSE_GENERATOR_RATE_HZ",
        "PULSE_INGEST_AUTH_TIMEOUT_S",
        "PULSE_PERSISTENCE_BATCH_SIZE",
        "PULSE_DATA_DIR",  # DevStackSettings
    ):
        assert expected in read


def test_readme_settings_table_matches_the_code() -> None:
    read = variables_read_by_the_code()
    documented = variables_in_the_readme_table()
    missing = sorted(read - documented)
    stale = sorted(documented - read - DOCUMENTED_ELSEWHERE_READ.keys())
    assert (missing, stale) == ([], []), (
        f"README.md's settings table is out of date.\n"
        f"missing (read by the code, not in the table; spell each name in full): {missing}\n"
        f"stale (in the table, read by no settings Struct): {stale}"
    )
