"""Ingest throughput: producer messages to committed rows, over NATS and over HTTP.

Real servers and real service processes (the same harness as the integration tests): an
embedded PostgreSQL (or ``PULSE_BENCH_DATABASE_URL``) and nats-server, with persistence,
ingest and auth. For each path it measures points/s from the first publish to the last
committed row (persistence's own counter, then an exact count), each process's CPU per point,
and the publish-to-commit latency of probe points sent every 20 ms during the load. Then it
times ``copy_records_to_table`` of as many rows in 5,000-row batches into the same database,
twice: into a table without an index (the bare COPY, the ceiling this machine allows) and into
a table shaped exactly like ``metrics`` (its unique key: the floor for what Pulse stores), and
reports each path's ratio to both.
"""

from __future__ import annotations

import asyncio
import contextlib
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
import psutil

from bench.ingest_stages import stage_costs
from bench.report import Progress, summary_ms, table, write
from bench.servers import bench_database
from tests.support.stack import PulseStack

CONCURRENCY = 8  # producer messages in flight
SOURCES = 10
PROBE_EVERY_S = 0.02
PROBE_POLL_S = 0.01
WARM_UP_MESSAGES = 4
COMMITTED_COUNTER = "pulse_persistence_points_received_total"


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
    """A point every 20 ms during the load, each on its own (a slow one does not hold back the
    next); one poller finds when each is committed (to within :data:`PROBE_POLL_S`)."""

    def __init__(self, database_url: str, send: Any) -> None:
        self._database_url = database_url
        self._send = send
        self.latencies: list[float] = []
        self._outstanding: dict[datetime, float] = {}  # probe time -> when it was sent
        self._sending: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()

    @property
    def committed(self) -> int:
        return len(self.latencies)

    async def run(self) -> None:
        poller = asyncio.create_task(self._poll())
        try:
            while not self._stop.is_set():
                moment = datetime.now(UTC)
                self._outstanding[moment] = time.perf_counter()
                task = asyncio.create_task(self._send(moment))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), PROBE_EVERY_S)
            await asyncio.gather(*self._sending)
            await poller  # until every probe sent is committed
        finally:
            poller.cancel()

    def stop(self) -> None:
        self._stop.set()

    async def _poll(self) -> None:
        stored = "SELECT m.time FROM metrics m JOIN series s ON s.id = m.series_id"
        stored += " WHERE s.name = 'bench_probe' AND m.time >= $1"
        conn = await asyncpg.connect(self._database_url)
        try:
            while self._outstanding or not self._stop.is_set():
                if self._outstanding:
                    for row in await conn.fetch(stored, min(self._outstanding)):
                        if (sent := self._outstanding.pop(row["time"], None)) is not None:
                            self.latencies.append(time.perf_counter() - sent)
                    # A lost probe must not hang the run.
                    if min(self._outstanding.values(), default=time.perf_counter()) < (
                        time.perf_counter() - 60
                    ):
                        raise TimeoutError("a probe point was not stored within a minute")
                await asyncio.sleep(PROBE_POLL_S)
        finally:
            await conn.close()


class Committed:
    """Points committed so far, from persistence's own counter (incremented after each commit):
    a ``count(*)`` over the growing table every 50 ms cost a fifth of the machine's CPU."""

    # httpx would open a connection per look (the health listener closes each): plain HTTP/1.0
    # over a socket costs this process far less.

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port

    async def points(self) -> int:
        reader, writer = await asyncio.open_connection(self._host, self._port)
        try:
            writer.write(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")
            text = (await reader.read()).decode()
        finally:
            writer.close()
        for line in text.splitlines():
            if line.startswith(COMMITTED_COUNTER + " "):
                return int(float(line.split()[1]))
        return 0


class CpuShare:
    """CPU seconds each part of the stack used between :meth:`start` and :meth:`stop`."""

    def __init__(self, processes: dict[str, psutil.Process]) -> None:
        self._processes = processes
        self._before: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    @staticmethod
    def _used(process: psutil.Process) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    @staticmethod
    def _machine() -> float:
        times = psutil.cpu_times()
        return float(times.user + times.system + times.nice + times.irq + times.softirq)

    def start(self) -> None:
        self._before = {name: self._used(p) for name, p in self._processes.items()}
        self._before["machine"] = self._machine()

    def stop(self) -> None:
        after = {name: self._used(p) for name, p in self._processes.items()}
        after["machine"] = self._machine()
        self.seconds = {name: after[name] - self._before[name] for name in after}

    def us_per_point(self, points: int) -> dict[str, float]:
        """Each process's CPU per point; ``other`` is the rest of the machine (PostgreSQL's
        backends and anything else running)."""
        share = {name: round(s / points * 1e6, 3) for name, s in self.seconds.items()}
        share["other"] = round(share["machine"] - sum(
            v for name, v in share.items() if name != "machine"
        ), 3)  # fmt: skip
        return share


async def _drive(
    label: str,
    committed: Committed,
    points: int,
    messages: list[bytes],
    send: Any,
    probe: Probe,
    cpu: CpuShare,
) -> float:
    """Send every message (CONCURRENCY at a time); seconds until the last row is committed."""
    progress = Progress(f"{label} committed", points)
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(message: bytes) -> None:
        async with slots:
            await send(message)

    before = await committed.points()
    cpu.start()
    started = time.perf_counter()
    sending = asyncio.gather(*(one(m) for m in messages))
    # The probes' points are counted too: those the probe saw committed are taken away (one
    # committed since its last look may end the wait a point early; the exact count follows).
    # Rendering the counter costs persistence a little CPU: a look every quarter of a second
    # while sending, every 20 ms once everything is sent (JetStream holds it: only the commits
    # are left to wait for).
    while (done := await committed.points() - before - probe.committed) < points:
        progress.update(done)
        if sending.done():
            if sending.exception():
                raise sending.exception()  # type: ignore[misc]
            await asyncio.sleep(0.02)
        else:
            await asyncio.wait({sending}, timeout=0.25)
    elapsed = time.perf_counter() - started
    cpu.stop()
    progress.update(done, force=True)
    await sending
    return elapsed


async def _warm_up(committed: Committed, send: Any, batch: int, base: datetime) -> None:
    """A few messages of another series first, not timed: connections, prepared statements
    and the consumer's first fetch are not what the run measures."""
    messages = _messages("bench_warmup", WARM_UP_MESSAGES * batch, batch, base)
    before = await committed.points()
    await asyncio.gather(*(send(m) for m in messages))
    for _ in range(3000):  # a minute at most
        if await committed.points() - before >= WARM_UP_MESSAGES * batch:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("the warm-up messages were not committed within a minute")


async def _verify_stored(database_url: str, name: str, points: int) -> None:
    """Every point sent is in ``metrics`` (once): the counter is not taken on trust."""
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(600):
            if (stored := await _count(conn, name)) >= points:
                break
            await asyncio.sleep(0.1)
        if stored != points:
            raise RuntimeError(f"{name}: {stored:,} rows stored for {points:,} points sent")
    finally:
        await conn.close()


async def _bare_copy(database_url: str, points: int, *, shaped: bool) -> float:
    """The same number of rows, copied with nothing else in the way: into a table without an
    index (``shaped=False``), or into one shaped exactly like ``metrics`` (its columns, unique
    key and NOT NULLs; a hypertable too when ``metrics`` is one)."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    records = [(base + timedelta(milliseconds=i), i % SOURCES + 1, float(i)) for i in range(points)]
    conn = await asyncpg.connect(database_url)
    progress = Progress("COPY into a metrics-shaped table" if shaped else "bare COPY", points)
    try:
        if shaped:
            await conn.execute(
                "DROP TABLE IF EXISTS bench_bare;"
                " CREATE TABLE bench_bare (LIKE metrics INCLUDING ALL)"
            )
            hypertable = await conn.fetchval(
                "SELECT to_regclass('timescaledb_information.hypertables') IS NOT NULL"
            )
            if hypertable and await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables"
                " WHERE hypertable_name = 'metrics')"
            ):
                await conn.execute(
                    "SELECT create_hypertable('bench_bare', 'time',"
                    " chunk_time_interval => interval '1 day')"
                )
        else:
            await conn.execute(
                "DROP TABLE IF EXISTS bench_bare;"
                " CREATE TABLE bench_bare (time timestamptz, series_id int, value float8)"
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


def _stack_processes(stack: PulseStack) -> dict[str, psutil.Process]:
    processes = {
        name: psutil.Process(stack[name].process.pid)  # type: ignore[union-attr]
        for name in ("ingest", "persistence")
    }
    processes["bench"] = psutil.Process()  # the producer, the probes and their polling
    for child in psutil.Process().children(recursive=True):
        if child.name() == "nats-server":
            processes["nats-server"] = child
    return processes


def _path_results(elapsed: float, points: int, probe: Probe, cpu: CpuShare) -> dict[str, Any]:
    return {
        "seconds": round(elapsed, 3),
        "points_per_s": round(points / elapsed),
        "publish_to_commit": summary_ms(probe.latencies),
        "cpu_us_per_point": cpu.us_per_point(points),
    }


async def run_ingest(*, points: int, batch: int) -> int:
    """``make bench ARGS="ingest …"``: measure, write bench/results, print the table."""
    print(f"ingest benchmark: {points:,} points in messages of {batch:,}, {CONCURRENCY} in flight")
    results = await measure_ingest(points=points, batch=batch)
    _print(results)
    return 0


async def measure_ingest(*, points: int, batch: int) -> dict[str, Any]:
    """The results (also written to bench/results/ingest-<time>.json, path under ``file``).

    Each path's ``ratio_to_bare_copy`` and ``ratio_to_shaped_copy`` are what a regression
    guard compares; ``points`` down to 200,000 keep them meaningful (about half a second a
    path, with some 25 probes).
    """
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    database_url, postgres = await bench_database(work)
    stack = PulseStack(work / "stack", database_url, {"PULSE_LOG_LEVEL": "warning"})
    results: dict[str, Any] = {"points": points, "batch": batch, "concurrency": CONCURRENCY}
    results["stages_us_per_point"] = stage_costs(batch)
    try:
        stack.start(["persistence", "auth", "ingest"])
        committed = Committed("127.0.0.1", stack["persistence"].port)
        cpu = CpuShare(_stack_processes(stack))
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
        messages = _messages("bench_nats", points, batch, base)
        await _warm_up(committed, over_nats, batch, base)
        probe = Probe(database_url, probe_nats)
        probing = asyncio.create_task(probe.run())
        elapsed = await _drive("NATS", committed, points, messages, over_nats, probe, cpu)
        probe.stop()
        await probing
        results["nats"] = _path_results(elapsed, points, probe, cpu)
        await _verify_stored(database_url, "bench_nats", points)
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

            messages = _messages("bench_http", points, batch, base + timedelta(days=1))
            await _warm_up(committed, over_http, batch, base + timedelta(days=1))
            probe = Probe(database_url, probe_http)
            probing = asyncio.create_task(probe.run())
            elapsed = await _drive("HTTP", committed, points, messages, over_http, probe, cpu)
            probe.stop()
            await probing
        results["http"] = _path_results(elapsed, points, probe, cpu)
        await _verify_stored(database_url, "bench_http", points)
    finally:
        stack.stop()
    bare = await _bare_copy(database_url, points, shaped=False)
    shaped = await _bare_copy(database_url, points, shaped=True)
    if postgres is not None:
        postgres.stop()
    results["bare_copy"] = {"seconds": round(bare, 3), "rows_per_s": round(points / bare)}
    results["shaped_copy"] = {"seconds": round(shaped, 3), "rows_per_s": round(points / shaped)}
    for route in ("nats", "http"):
        rate = results[route]["points_per_s"]
        results[route]["ratio_to_bare_copy"] = round(rate / results["bare_copy"]["rows_per_s"], 3)
        results[route]["ratio_to_shaped_copy"] = round(
            rate / results["shaped_copy"]["rows_per_s"], 3
        )
    results["file"] = str(write("ingest", results))
    return results


def _print(results: dict[str, Any]) -> None:
    rows = []
    for label, key in (("NATS -> committed", "nats"), ("HTTP -> committed", "http")):
        r = results[key]
        latency = r["publish_to_commit"]
        rows.append(
            (label, f"{r['points_per_s']:>10,} points/s  {r['ratio_to_bare_copy']:.0%} of bare"
             f" COPY, {r['ratio_to_shaped_copy']:.0%} of metrics-shaped COPY;"
             f"  p50 {latency['p50_ms']} ms  p99 {latency['p99_ms']} ms"
             f" ({latency['samples']} probes)")
        )  # fmt: skip
    for label, key in (("NATS", "nats"), ("HTTP", "http")):
        share = results[key]["cpu_us_per_point"]
        rows.append(
            (f"{label} CPU per point", "  ".join(f"{k} {v:.2f} us" for k, v in share.items()))
        )
    rows += [
        ("bare COPY (no index)", f"{results['bare_copy']['rows_per_s']:>10,} rows/s"),
        ("COPY, metrics-shaped", f"{results['shaped_copy']['rows_per_s']:>10,} rows/s"),
        ("stages (us a point)", "  ".join(
            f"{k} {v:.3f}" for k, v in results["stages_us_per_point"].items()
        )),
        ("results", results["file"]),
    ]  # fmt: skip
    table(rows)
