"""Ingest throughput: producer messages to committed rows, over NATS and over HTTP.

Real servers and real service processes (the same harness as the integration tests): an
embedded PostgreSQL (or ``PULSE_BENCH_DATABASE_URL``) and nats-server, with persistence,
ingest and auth. For each path it measures points/s from the first publish to the last
committed row, and the publish-to-commit latency of probe points sent once every 100 ms during
the load. Then it times a bare ``copy_records_to_table`` of the same rows in 5,000-row batches
into the same database: the ceiling this machine allows, and the ratio to it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import nats

from bench.report import Progress, summary_ms, table, write
from bench.servers import bench_database
from tests.support.stack import PulseStack

CONCURRENCY = 8  # producer messages in flight
SOURCES = 10
PROBE_EVERY_S = 0.1


def _messages(name: str, points: int, batch: int, base: datetime) -> list[bytes]:
    encode = msgspec.msgpack.Encoder().encode
    messages = []
    for first in range(0, points, batch):
        messages.append(
            encode(
                [
                    {
                        "time": base + timedelta(milliseconds=i),
                        "source": f"bench{i % SOURCES}",
                        "name": name,
                        "value": float(i),
                    }
                    for i in range(first, min(points, first + batch))
                ]
            )
        )
    return messages


async def _count(conn: asyncpg.Connection, name: str) -> int:
    value = await conn.fetchval(
        "SELECT count(*) FROM metrics m JOIN series s ON s.id = m.series_id WHERE s.name = $1",
        name,
    )
    return int(value)


class Probe:
    """A point every 100 ms during the load; how long until each is committed."""

    def __init__(self, database_url: str, send: Any) -> None:
        self._database_url = database_url
        self._send = send
        self.latencies: list[float] = []
        self._stop = asyncio.Event()

    async def run(self) -> None:
        conn = await asyncpg.connect(self._database_url)
        try:
            while not self._stop.is_set():
                moment = datetime.now(UTC)
                sent = time.perf_counter()
                await self._send(moment)
                await self._until_stored(conn, moment)
                self.latencies.append(time.perf_counter() - sent)
                await asyncio.sleep(PROBE_EVERY_S)
        finally:
            await conn.close()

    def stop(self) -> None:
        self._stop.set()

    @staticmethod
    async def _until_stored(conn: asyncpg.Connection, moment: datetime) -> None:
        stored = "SELECT EXISTS (SELECT 1 FROM metrics m JOIN series s ON s.id = m.series_id"
        stored += " WHERE s.name = 'bench_probe' AND m.time = $1)"
        for _ in range(30_000):  # a minute at most: a lost probe must not hang the run
            if await conn.fetchval(stored, moment):
                return
            await asyncio.sleep(0.002)
        raise TimeoutError("a probe point was not stored within a minute")


async def _drive(
    label: str, database_url: str, name: str, points: int, messages: list[bytes], send: Any
) -> float:
    """Send every message (CONCURRENCY at a time); seconds until the last row is committed."""
    conn = await asyncpg.connect(database_url)
    progress = Progress(f"{label} committed", points)
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(message: bytes) -> None:
        async with slots:
            await send(message)

    started = time.perf_counter()
    sending = asyncio.gather(*(one(m) for m in messages))
    try:
        while (done := await _count(conn, name)) < points:
            progress.update(done)
            if sending.done() and sending.exception():
                raise sending.exception()  # type: ignore[misc]
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        progress.update(done, force=True)
        await sending
    finally:
        await conn.close()
    return elapsed


async def _bare_copy(database_url: str, points: int) -> float:
    """The same number of rows, copied with nothing else in the way."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    records = [(i % SOURCES, base + timedelta(milliseconds=i), float(i)) for i in range(points)]
    conn = await asyncpg.connect(database_url)
    progress = Progress("bare COPY", points)
    try:
        await conn.execute(
            "DROP TABLE IF EXISTS bench_bare;"
            " CREATE TABLE bench_bare (series_id int, time timestamptz, value float8)"
        )
        started = time.perf_counter()
        for first in range(0, points, 5_000):
            await conn.copy_records_to_table("bench_bare", records=records[first : first + 5_000])
            progress.update(first + 5_000)
        elapsed = time.perf_counter() - started
        await conn.execute("DROP TABLE bench_bare")
    finally:
        await conn.close()
    return elapsed


def _api_key(database_url: str) -> str:
    created = subprocess.run(
        [sys.executable, "-m", "pulse_auth.cli", "apikeys", "create", "--name", "bench",
         "--scope", "ingest:metrics"],
        env={**os.environ, "PULSE_DATABASE_URL": database_url},  # noqa: TID251
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return created.stdout.rsplit("secret (shown only now): ", 1)[1].strip()


async def run_ingest(*, points: int, batch: int) -> int:
    print(f"ingest benchmark: {points:,} points in messages of {batch:,}, {CONCURRENCY} in flight")
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    database_url, postgres = await bench_database(work)
    stack = PulseStack(work / "stack", database_url, {"PULSE_LOG_LEVEL": "warning"})
    results: dict[str, Any] = {"points": points, "batch": batch, "concurrency": CONCURRENCY}
    try:
        stack.start(["persistence", "auth", "ingest"])
        nc = await nats.connect(stack.nats_url)
        headers = {"Content-Type": "application/msgpack"}

        async def over_nats(message: bytes) -> None:
            reply = await nc.request("ingest.metrics", message, timeout=60, headers=headers)
            if b"accepted" not in reply.data:
                raise RuntimeError(reply.data.decode())

        async def probe_nats(moment: datetime) -> None:
            point = {"time": moment, "source": "probe", "name": "bench_probe", "value": 1.0}
            await over_nats(msgspec.msgpack.encode(point))

        base = datetime(2026, 1, 1, tzinfo=UTC)
        probe = Probe(database_url, probe_nats)
        probing = asyncio.create_task(probe.run())
        elapsed = await _drive(
            "NATS", database_url, "bench_nats", points,
            _messages("bench_nats", points, batch, base), over_nats,
        )  # fmt: skip
        probe.stop()
        await probing
        results["nats"] = {
            "seconds": round(elapsed, 3),
            "points_per_s": round(points / elapsed),
            "publish_to_commit": summary_ms(probe.latencies),
        }
        await nc.drain()

        key = _api_key(database_url)
        async with httpx.AsyncClient(
            base_url=stack["ingest"].url(""),
            headers={"Authorization": f"Bearer {key}", **headers},
            timeout=60,
        ) as client:

            async def over_http(message: bytes) -> None:
                response = await client.post("/api/v1/metrics", content=message)
                if response.status_code != 202:
                    raise RuntimeError(f"{response.status_code} {response.text}")

            async def probe_http(moment: datetime) -> None:
                point = {"time": moment, "source": "probe", "name": "bench_probe", "value": 2.0}
                await over_http(msgspec.msgpack.encode(point))

            probe = Probe(database_url, probe_http)
            probing = asyncio.create_task(probe.run())
            elapsed = await _drive(
                "HTTP", database_url, "bench_http", points,
                _messages("bench_http", points, batch, base + timedelta(days=1)), over_http,
            )  # fmt: skip
            probe.stop()
            await probing
        results["http"] = {
            "seconds": round(elapsed, 3),
            "points_per_s": round(points / elapsed),
            "publish_to_commit": summary_ms(probe.latencies),
        }
    finally:
        stack.stop()
    bare = await _bare_copy(database_url, points)
    if postgres is not None:
        postgres.stop()
    results["bare_copy"] = {"seconds": round(bare, 3), "rows_per_s": round(points / bare)}
    for path in ("nats", "http"):
        results[path]["ratio_to_bare_copy"] = round(
            results[path]["points_per_s"] / results["bare_copy"]["rows_per_s"], 3
        )
    path = write("ingest", results)
    nats_r, http_r = results["nats"], results["http"]
    table(
        [
            ("NATS -> committed", f"{nats_r['points_per_s']:>10,} points/s  "
             f"p50 {nats_r['publish_to_commit']['p50_ms']} ms  "
             f"p99 {nats_r['publish_to_commit']['p99_ms']} ms  "
             f"({nats_r['ratio_to_bare_copy']:.0%} of bare COPY)"),
            ("HTTP -> committed", f"{http_r['points_per_s']:>10,} points/s  "
             f"p50 {http_r['publish_to_commit']['p50_ms']} ms  "
             f"p99 {http_r['publish_to_commit']['p99_ms']} ms  "
             f"({http_r['ratio_to_bare_copy']:.0%} of bare COPY)"),
            ("bare COPY (ceiling)", f"{results['bare_copy']['rows_per_s']:>10,} rows/s"),
            ("results", str(path)),
        ]
    )  # fmt: skip
    return 0
