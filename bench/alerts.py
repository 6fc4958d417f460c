"""Rule evaluation: 10,000 series at 1 Hz against 1,000 rules on one alerts process (issue 15:
report its CPU).

The alerts service runs as a process on a NATS server and a database of its own; 1,000
threshold rules are stored directly in ``alerts.rules`` (10 per metric over 100 metrics, every
source: 100 series per metric, so each batch meets 10 rules), and this process publishes one
SeriesBatch per series a second on the core ``live.metrics.<source>.<name>`` subjects the
evaluator reads (the METRICS stream's republish; JetStream itself is not what is measured).
Each second about 0.5 % of the series cross one rule (it fires, and resolves the next second),
so the state writes and the notifications to a stand-in notifier here are part of the cost.
The alerts process's CPU is sampled with psutil over ``--seconds``.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import msgspec
import nats
import psutil
from nats.aio.msg import Msg
from pulse_contracts import Codec, SeriesBatch, subjects, to_epoch_us
from pulse_contracts.notifications import Created, Recipients, Threshold
from pulse_dev.embedded import EmbeddedPostgres

from bench.report import table, write
from tests.support.stack import PulseStack, create_database, drop_database, eventually

METRICS = 100
SOURCES = 100
RULES_PER_METRIC = 10


async def _store_rules(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        rows = []
        recipients = msgspec.json.encode(Recipients(roles=["admin"])).decode()
        for metric in range(METRICS):
            for index in range(RULES_PER_METRIC):
                # Values are uniform in [0, 100): each second about 0.5 % of the series cross
                # the first rule of their metric (fires at once, resolves the next second);
                # the other rules (above 100, held 5 s) are evaluated and never fire.
                if index == 0:
                    condition = Threshold(metric=f"m{metric}", value=99.5)
                else:
                    condition = Threshold(metric=f"m{metric}", value=100.0 + index, for_s=5)
                rows.append(
                    (
                        uuid.uuid4(),
                        f"m{metric} rule {index}",
                        msgspec.json.encode(condition).decode(),
                        "warning",
                        recipients,
                    )
                )
        await conn.executemany(
            "INSERT INTO alerts.rules (id, name, condition, severity, recipients, owner_id)"
            " VALUES ($1, $2, $3::jsonb, $4, $5::jsonb, 'bench')",
            rows,
        )
        await conn.execute("UPDATE alerts.rules_version SET version = version + 1")
    finally:
        await conn.close()


def _batches_evaluated(stack: PulseStack) -> float:
    with urllib.request.urlopen(stack["alerts"].url("/metrics"), timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith('pulse_alerts_batches_total{stream="metrics"}'):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def run_alerts(*, seconds: float) -> int:
    series = METRICS * SOURCES
    rules = METRICS * RULES_PER_METRIC
    print(f"alerts benchmark: {series:,} series at 1 Hz, {rules:,} rules, {seconds:g} s measured")
    external = os.environ.get("PULSE_BENCH_DATABASE_URL")  # noqa: TID251
    scratch = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    postgres = None if external else EmbeddedPostgres(scratch / "pg")
    if postgres is not None:
        postgres.start()
    server_url = external or (postgres.url if postgres else "")
    database_url = await create_database(server_url)
    stack = PulseStack(scratch / "stack", database_url, {"PULSE_LOG_LEVEL": "warning"})
    codec = Codec()
    try:
        stack.start(["alerts"])  # migrates its schema
        await _store_rules(database_url)
        nc = await nats.connect(stack.nats_url)
        created = 0

        async def notified(msg: Msg) -> None:
            nonlocal created
            created += 1
            await msg.respond(codec.pack(Created(recipients=1, ids=[created])))

        await nc.subscribe(subjects.notify_rpc("create"), cb=notified)
        process = psutil.Process(stack["alerts"].process.pid)  # type: ignore[union-attr]
        rng = random.Random(15)
        names = [(f"s{s}", f"m{m}") for m in range(METRICS) for s in range(SOURCES)]
        subjects_of = [f"live.metrics.{source}.{name}" for source, name in names]

        async def second() -> None:
            now_us = to_epoch_us(datetime.now(UTC))
            for (source, name), subject in zip(names, subjects_of, strict=True):
                batch = SeriesBatch(
                    source=source, name=name, times_us=[now_us], values=[rng.random() * 100]
                )
                await nc.publish(subject, codec.pack(batch))
            await nc.flush()

        async def loaded() -> bool:
            await second()
            await asyncio.sleep(1)
            return created > 0

        await eventually(loaded, within_s=60, interval_s=0)  # rules loaded, alerts firing
        evaluated_before = _batches_evaluated(stack)
        cpu_before = process.cpu_times()
        wall_before = time.perf_counter()
        late = 0
        for _ in range(int(seconds)):
            started = time.perf_counter()
            await second()
            spare = 1.0 - (time.perf_counter() - started)
            if spare > 0:
                await asyncio.sleep(spare)
            else:
                late += 1
        cpu_after = process.cpu_times()
        wall = time.perf_counter() - wall_before
        evaluated = _batches_evaluated(stack) - evaluated_before
        used = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
        await nc.drain()
        results = {
            "series": series,
            "rules": rules,
            "seconds": round(wall, 1),
            "cpu_seconds": round(used, 2),
            "cpu_percent_of_one_core": round(100 * used / wall, 1),
            "batches_evaluated_per_s": round(evaluated / wall),
            "notifications_created": created,
            "late_seconds_of_the_publisher": late,
        }
        path = write("alerts", results)
        table(
            [
                ("series x rules", f"{series:,} at 1 Hz x {rules:,}"),
                ("alerts CPU", f"{results['cpu_percent_of_one_core']} % of one core"),
                ("batches evaluated", f"{results['batches_evaluated_per_s']:,}/s"),
                ("notifications", f"{created:,}"),
                ("results", str(path)),
            ]
        )
        return 0
    finally:
        stack.stop()
        await drop_database(server_url, database_url)
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(scratch, ignore_errors=True)
