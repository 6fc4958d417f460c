"""``make bench ARGS="cluster"``: ingest through a 3-node NATS cluster with R3 streams against
one node (R1), in the same run, with the same services around it.

Both configurations are tests/cluster's hosts (network namespaces on this machine): two
application hosts, each with an ingest and a persistence (auth, a gateway and the generator on
the first), and the NATS node(s) on hosts of their own. The same msgpack batches go to
``ingest.metrics`` (either ingest answers: a queue group), ``CONCURRENCY`` requests in flight.
Two figures a configuration: points/s acknowledged (every reply in: JetStream has stored them,
on a majority of the nodes with R3) and points/s committed (the last row in PostgreSQL).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import nats
import psutil

from bench.ingest import _count, _messages
from bench.report import table, write
from tests.cluster.pulse_cluster import PulseCluster

CONCURRENCY = 8
WARM_UP_MESSAGES = 4
HEADERS = {"Content-Type": "application/msgpack"}


async def _wait_for_rows(database_url: str, name: str, points: int, within_s: float) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + within_s
        while (stored := await _count(conn, name)) < points:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: {stored:,} of {points:,} rows after {within_s} s")
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def _ingest_through(cluster: PulseCluster, points: int, batch: int) -> dict[str, Any]:
    assert cluster.nats is not None
    nc = await nats.connect(servers=cluster.nats.servers)
    try:

        async def send(message: bytes) -> None:
            reply = await nc.request("ingest.metrics", message, timeout=60, headers=HEADERS)
            if b"accepted" not in reply.data:
                raise RuntimeError(reply.data.decode())

        base = datetime(2026, 1, 1, tzinfo=UTC)
        warm = _messages("bench_warmup", WARM_UP_MESSAGES * batch, batch, base)
        await asyncio.gather(*(send(m) for m in warm))
        await _wait_for_rows(cluster.database_url, "bench_warmup", len(warm) * batch, 60)

        messages = _messages("bench_cluster", points, batch, base + timedelta(days=1))
        slots = asyncio.Semaphore(CONCURRENCY)

        async def one(message: bytes) -> None:
            async with slots:
                await send(message)

        cpu_before = psutil.cpu_times()
        started = time.perf_counter()
        await asyncio.gather(*(one(m) for m in messages))
        acknowledged = time.perf_counter() - started
        await _wait_for_rows(cluster.database_url, "bench_cluster", points, 300)
        committed = time.perf_counter() - started
        cpu_after = psutil.cpu_times()
    finally:
        await nc.drain()
    busy = sum(
        getattr(cpu_after, f) - getattr(cpu_before, f)
        for f in ("user", "system", "nice", "irq", "softirq")
    )
    return {
        "acknowledged_s": round(acknowledged, 3),
        "acknowledged_points_per_s": round(points / acknowledged),
        "committed_s": round(committed, 3),
        "committed_points_per_s": round(points / committed),
        "machine_cpu_us_per_point": round(busy / points * 1e6, 2),
    }


async def _one_configuration(nodes: int, points: int, batch: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-cluster-"))
    cluster = PulseCluster(work, nats_nodes=nodes, stream_replicas=nodes, PULSE_LOG_LEVEL="warning")
    try:
        await cluster.start()
        return {"nats_nodes": nodes, "stream_replicas": nodes, **await _ingest_through(
            cluster, points, batch
        )}  # fmt: skip
    finally:
        cluster.stop()


async def run_cluster(*, points: int, batch: int, rounds: int = 2) -> int:
    """Single node and cluster alternately, ``rounds`` times each: the machine's other load
    drifts, so the two are compared round by round."""
    print(f"cluster benchmark: {points:,} points in messages of {batch:,}, {CONCURRENCY} in flight")
    results: dict[str, Any] = {"points": points, "batch": batch, "concurrency": CONCURRENCY}
    results["rounds"] = []
    for number in range(1, rounds + 1):
        single = await _one_configuration(1, points, batch)
        clustered = await _one_configuration(3, points, batch)
        ratio = clustered["committed_points_per_s"] / single["committed_points_per_s"]
        results["rounds"].append(
            {"single": single, "cluster": clustered, "committed_ratio": round(ratio, 3)}
        )
        print(f"round {number}: single {single}\n         cluster {clustered}", flush=True)
    path = write("cluster", results)
    rows = []
    for number, entry in enumerate(results["rounds"], 1):
        for label in ("single", "cluster"):
            run = entry[label]
            rows.append(
                (
                    f"round {number}, {label} (R{run['stream_replicas']})",
                    f"acknowledged {run['acknowledged_points_per_s']:,}/s,"
                    f" committed {run['committed_points_per_s']:,}/s,"
                    f" {run['machine_cpu_us_per_point']} µs CPU a point",
                )
            )
        rows.append((f"round {number}, cluster ÷ single", f"{entry['committed_ratio']}"))
    rows.append(("results", str(path)))
    table(rows)
    return 0
