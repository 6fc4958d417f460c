"""Audit records from a service process reach persistence's tables exactly once, whatever NATS
does: while it is away they wait in the process's spool and are sent when it is back, and a
spool left behind by a process that died is sent by the next one.

The records here are persistence's own: with ``PULSE_AUDIT_RETENTION_INTERVAL_S`` short, its
retention task runs twice a second, each run START, a step per table it sweeps (three on plain
PostgreSQL; on TimescaleDB only the dead letters, the hypertables being its own policies'), and
SUCCESS, recorded through the process's recorder and LOGS like any service's records.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.support.stack import PulseStack, eventually

pytestmark = pytest.mark.integration

SWEEP_EVERY_S = "0.5"
TIMEOUT_S = 60.0


async def retention_runs(database_url: str) -> dict[str, tuple[datetime, list[int], list[str]]]:
    """Every stored run of the retention task: its start, its steps' orders and statuses."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT task_id::text, min(created_at) AS started,"
            " array_agg(execution_order ORDER BY execution_order) AS orders,"
            " array_agg(status ORDER BY execution_order) AS statuses"
            " FROM audit_task_steps WHERE task_name = 'audit_retention'"
            " GROUP BY task_id"
        )
    finally:
        await conn.close()
    return {row["task_id"]: (row["started"], row["orders"], row["statuses"]) for row in rows}


def complete_between(
    runs: dict[str, tuple[datetime, list[int], list[str]]],
    after: datetime,
    before: datetime,
    steps: int,
) -> list[str]:
    """The runs started in ``(after, before)`` whose ``steps`` steps are all stored, once."""
    whole = ["START"] + ["SUCCESS"] * (steps - 1)
    return [
        task_id
        for task_id, (started, orders, statuses) in runs.items()
        if after < started < before and orders == list(range(1, steps + 1)) and statuses == whole
    ]


async def steps_per_run(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        timescale = await conn.fetchval(
            "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
        )
    finally:
        await conn.close()
    return 3 if timescale else 5


def spooled(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.glob("*.spool"))


async def test_records_are_stored_once_and_outlive_a_nats_outage_and_a_crash(
    make_stack: Any, database_url: str
) -> None:
    stack: PulseStack = make_stack(PULSE_AUDIT_RETENTION_INTERVAL_S=SWEEP_EVERY_S)
    stack.start(["persistence"])
    spool = stack.work_dir / "audit-spool" / "persistence"
    steps = await steps_per_run(database_url)

    # Records made while everything runs arrive, each run whole and each step once.
    first = await eventually(lambda: retention_runs(database_url), within_s=TIMEOUT_S)
    assert first, "no retention run stored"
    for _, orders, statuses in first.values():
        assert orders == sorted(set(orders)), orders  # no step stored twice
        assert statuses[0] == "START"

    # NATS away: the process goes on recording, into its spool ...
    went_away = datetime.now(UTC)
    await asyncio.to_thread(stack.nats.stop)
    assert await eventually(lambda: asyncio.sleep(0.1, spooled(spool) > 0), within_s=TIMEOUT_S)
    await asyncio.sleep(3)  # six runs' time, for a loaded machine to make three
    came_back = datetime.now(UTC)
    await asyncio.to_thread(stack.nats.start)

    # ... and sends it once NATS is back: the runs made meanwhile are stored whole.
    async def outage_runs() -> list[str]:
        # A run's steps may arrive over several batches: wait for the runs, not the first one.
        runs = complete_between(await retention_runs(database_url), went_away, came_back, steps)
        return runs if len(runs) >= 3 else []

    during = await eventually(outage_runs, within_s=TIMEOUT_S)
    assert len(during) >= 3, during
    assert await eventually(lambda: asyncio.sleep(0.1, spooled(spool) == 0), within_s=TIMEOUT_S)

    # NATS away again, and the process dies (SIGKILL: no graceful stop, no flush) with a spool.
    went_away = datetime.now(UTC)
    await asyncio.to_thread(stack.nats.stop)
    assert await eventually(lambda: asyncio.sleep(0.1, spooled(spool) > 0), within_s=TIMEOUT_S)
    await asyncio.sleep(3)
    stack["persistence"].kill()
    died = datetime.now(UTC)
    left_behind = spooled(spool)
    assert left_behind > 0

    # The next process on the same spool directory sends it.
    await asyncio.to_thread(stack.nats.start)
    stack.start(["persistence"])

    async def runs_before_the_crash() -> list[str]:
        runs = complete_between(await retention_runs(database_url), went_away, died, steps)
        return runs if len(runs) >= 2 else []

    before_crash = await eventually(runs_before_the_crash, within_s=TIMEOUT_S)
    assert len(before_crash) >= 2, before_crash
    assert await eventually(lambda: asyncio.sleep(0.1, spooled(spool) == 0), within_s=TIMEOUT_S)

    # Nothing stored twice: every stored step of every run has its own execution order.
    for task_id, (_, orders, _) in (await retention_runs(database_url)).items():
        assert len(orders) == len(set(orders)), (task_id, orders)
