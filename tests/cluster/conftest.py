"""One Pulse cluster for the scenarios of a run (``make test-cluster``), and their counts.

Starting it takes about a minute, so the scenarios share it: each leaves every process running
and every host connected when it ends, and checks only the data of its own series and class.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from .pulse_cluster import PulseCluster

_REPORTS: list[dict[str, Any]] = []


@pytest.fixture(scope="session")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PulseCluster]:
    running = PulseCluster(tmp_path_factory.mktemp("cluster"))
    try:
        await running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Any:
    """``report(counts)``: a scenario's counts, printed at the end of the run and written to
    ``--cluster-results`` when given."""

    def record(counts: dict[str, Any]) -> None:
        _REPORTS.append({"scenario": request.node.name, **counts})

    return record


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not _REPORTS:
        return
    terminalreporter.section("cluster scenarios")
    for entry in _REPORTS:
        terminalreporter.line(json.dumps(entry))
    path = config.getoption("cluster_results")
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(_REPORTS, indent=2) + "\n", encoding="utf-8")
