"""History queries over 10,000,000 rows: a day at 1-minute buckets, a week in 1,000 points,
and 100,000 raw points through the gateway.

The rows are generated inside PostgreSQL (ten series at 1 Hz for about 11.6 days), then the
two bucketed questions are asked repeatedly through persistence's query code, and p50/p95
reported. Then persistence, auth and the gateway run as processes on that database and
``GET /api/v1/metrics`` asks for the newest 100,000 raw points of one series (the documented
limit: an answer of several MB, more than one NATS message, ADR 12), timed to the last byte.
TimescaleDB is used when the server has it (``PULSE_BENCH_DATABASE_URL``); the embedded server
is plain PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from pulse_contracts import MetricsQuery, MetricsQueryResult
from pulse_dev.embedded import EmbeddedPostgres
from pulse_persistence.queries import MetricsQueries, rollups_present
from pulse_persistence.schema import migrate
from pulse_runtime.database import create_pool, has_timescaledb

from bench.report import Progress, percentile, table, write
from tests.support.stack import PulseStack, bearer, create_database, drop_database

SERIES = 10
REPEATS = 50
RAW_POINTS = 100_000  # PULSE_GATEWAY_MAX_QUERY_POINTS: the largest raw answer
RAW_REPEATS = 20
START = datetime(2026, 1, 1, tzinfo=UTC)


async def _fill(conn: asyncpg.Connection, rows: int) -> None:
    per_series = rows // SERIES
    await conn.execute(
        "INSERT INTO series (source, name, unit)"
        " SELECT 'host' || g, 'history', 'percent' FROM generate_series(1, $1) g",
        SERIES,
    )
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM series ORDER BY id")]
    progress = Progress("rows generated", rows)
    chunk = 500_000
    for index, series_id in enumerate(ids):
        for first in range(0, per_series, chunk):
            await conn.execute(
                "INSERT INTO metrics (time, series_id, value)"
                " SELECT $1::timestamptz + g * interval '1 second', $2,"
                " 50 + 40 * sin(g / 3600.0) + (g % 7)"
                " FROM generate_series($3::bigint, $4::bigint) g",
                START,
                series_id,
                first,
                min(per_series, first + chunk) - 1,
            )
            progress.update(index * per_series + min(per_series, first + chunk))
    progress.update(rows, force=True)
    print("  analyzing…", flush=True)
    await conn.execute("ANALYZE metrics")


async def _timed(queries: MetricsQueries, question: MetricsQuery) -> tuple[list[float], str, int]:
    durations = []
    answer: Any = None
    for _ in range(REPEATS):
        started = time.perf_counter()
        answer = await queries.metrics(question)
        durations.append(time.perf_counter() - started)
    assert isinstance(answer, MetricsQueryResult), answer
    return durations, answer.resolution, len(answer.buckets)


async def _raw_through_gateway(work: Path, database_url: str, end: datetime) -> dict[str, Any]:
    """``GET /api/v1/metrics`` for the newest RAW_POINTS points of one series, RAW_REPEATS
    times: each timed to the last byte of the body; refusals counted by status and code."""
    stack = PulseStack(work / "stack", database_url, {"PULSE_LOG_LEVEL": "warning"})
    params = {
        "name": "history",
        "source": "host1",
        "from": (end - timedelta(seconds=RAW_POINTS)).isoformat(),
        "to": end.isoformat(),
    }
    durations: list[float] = []
    refused: dict[str, int] = {}
    body_bytes = 0
    try:
        stack.start(["persistence", "auth", "gateway"])
        headers = bearer(await stack.token())
        async with httpx.AsyncClient(headers=headers, timeout=120) as client:
            url = stack["gateway"].url("/api/v1/metrics")
            for _ in range(RAW_REPEATS):
                started = time.perf_counter()
                response = await client.get(url, params=params)
                elapsed = time.perf_counter() - started
                if response.status_code == 200 and len(response.json()["series"]) == RAW_POINTS:
                    durations.append(elapsed)
                    body_bytes = len(response.content)
                else:
                    reason = f"{response.status_code} {response.json().get('code', '?')}"
                    refused[reason] = refused.get(reason, 0) + 1
                print(f"  {RAW_POINTS:,} raw points: {response.status_code} in {elapsed:.2f} s")
    finally:
        stack.stop()
    return {
        "answered": len(durations),
        "asked": RAW_REPEATS,
        "refused": refused,
        "body_bytes": body_bytes,
        "p50_ms": round(percentile(durations, 0.50) * 1000, 2),
        "p95_ms": round(percentile(durations, 0.95) * 1000, 2),
    }


async def run_history(*, points: int, batch: int) -> int:
    rows = points if points != 1_000_000 else 10_000_000  # the default of `make bench`
    if rows // SERIES < RAW_POINTS + 60:  # the range ends on a whole minute
        print(f"history benchmark: --points must be at least {SERIES * (RAW_POINTS + 60):,}")
        return 2
    print(f"history benchmark: {rows:,} rows, each question asked {REPEATS} times")
    external = os.environ.get("PULSE_BENCH_DATABASE_URL")  # noqa: TID251
    postgres = None
    scratch = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    if not external:
        postgres = EmbeddedPostgres(scratch / "pg")
        postgres.start()
    server_url = external or (postgres.url if postgres else "")
    database_url = await create_database(server_url)
    pool = await create_pool(database_url, max_size=2)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
            timescale = await has_timescaledb(conn)
            rollups = timescale and await rollups_present(conn)
            await _fill(conn, rows)
            if rollups:
                for view in ("metrics_1m", "metrics_1h"):
                    await conn.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")
        queries = MetricsQueries(pool, max_points=100_000, rollups=rollups)
        # the newest whole minute, so a day is exactly 1,440 one-minute buckets
        end = START + timedelta(minutes=rows // SERIES // 60)
        questions = {
            "24 h at 1-minute buckets": MetricsQuery(
                name="history", source="host1", start=end - timedelta(days=1), end=end,
                max_points=1440,
            ),
            "7 days, max_points=1000": MetricsQuery(
                name="history", source="host1", start=end - timedelta(days=7), end=end,
                max_points=1000,
            ),
        }  # fmt: skip
        results: dict[str, Any] = {"rows": rows, "timescaledb": timescale, "rollups": rollups}
        lines = []
        for label, question in questions.items():
            durations, resolution, buckets = await _timed(queries, question)
            results[label] = {
                "resolution": resolution,
                "buckets": buckets,
                "p50_ms": round(percentile(durations, 0.50) * 1000, 2),
                "p95_ms": round(percentile(durations, 0.95) * 1000, 2),
                "mean_ms": round(statistics.fmean(durations) * 1000, 2),
            }
            r = results[label]
            lines.append(
                (label, f"p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  ({buckets} x {resolution})")
            )
        raw = results[
            f"{RAW_POINTS:,} raw points, GET /api/v1/metrics"
        ] = await _raw_through_gateway(scratch, database_url, end)
        summary = f"{raw['answered']}/{raw['asked']} answered"
        if raw["answered"]:
            summary += f", p50 {raw['p50_ms']} ms  p95 {raw['p95_ms']} ms"
            summary += f"  ({raw['body_bytes'] / 1e6:.1f} MB of JSON)"
        if raw["refused"]:
            summary += "; refused: " + ", ".join(f"{k} x{n}" for k, n in raw["refused"].items())
        lines.append((f"{RAW_POINTS:,} raw points via the gateway", summary))
    finally:
        # Nothing stays behind: the 10M-row database is dropped (on an external server too),
        # and the embedded server's files are removed.
        await pool.close()
        await drop_database(server_url, database_url)
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    path = write("history", results)
    database = "TimescaleDB" if results["timescaledb"] else "plain PostgreSQL"
    table([("database", database), *lines, ("results", str(path))])
    return 0
