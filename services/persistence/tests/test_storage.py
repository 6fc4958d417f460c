"""The writer and the queries against a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pulse_contracts import (
    MetricsQuery,
    MetricsQueryResult,
    RpcError,
    SeriesBatch,
    StoredPoint,
    to_epoch_us,
)
from pulse_persistence.queries import MetricsQueries
from pulse_persistence.schema import migrate, prepare_connection
from pulse_persistence.writer import MetricsWriter
from pulse_runtime.database import create_pool, has_timescaledb

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 22, 10, tzinfo=UTC)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=4, init=prepare_connection)
    async with pool.acquire() as conn:
        await migrate(conn)
    yield pool
    await pool.close()


def batch(source: str, name: str, seconds: list[int], values: list[float]) -> SeriesBatch:
    return SeriesBatch(
        source=source,
        name=name,
        times_us=[to_epoch_us(T0 + timedelta(seconds=s)) for s in seconds],
        values=values,
        unit="percent",
    )


async def test_writes_are_idempotent(pool: asyncpg.Pool) -> None:
    writer = MetricsWriter(pool)
    first = [batch("a", "cpu", [0, 1, 2], [1, 2, 3]), batch("b", "cpu", [0], [9])]
    assert await writer.write(first) == 4
    assert await writer.write(first) == 0  # a redelivered batch adds nothing
    overlapping = [batch("a", "cpu", [2, 3], [3, 4]), batch("a", "cpu", [3], [4])]
    assert await writer.write(overlapping) == 1
    assert await pool.fetchval("SELECT count(*) FROM metrics") == 5
    assert await pool.fetchval("SELECT count(*) FROM series") == 2


async def test_a_fresh_writer_finds_existing_series(pool: asyncpg.Pool) -> None:
    await MetricsWriter(pool).write([batch("a", "cpu", [0], [1])])
    await MetricsWriter(pool).write([batch("a", "cpu", [1], [2])])
    assert await pool.fetchval("SELECT count(*) FROM series") == 1


async def test_query_returns_points_in_time_order_for_every_source_or_one(
    pool: asyncpg.Pool,
) -> None:
    await MetricsWriter(pool).write(
        [
            batch("a", "cpu", [0, 2], [1, 3]),
            batch("b", "cpu", [1], [2]),
            batch("a", "mem", [0], [50]),
        ]
    )
    queries = MetricsQueries(pool, max_points=100)
    everything = await queries.raw_points(
        MetricsQuery(name="cpu", start=T0, end=T0 + timedelta(minutes=1))
    )
    assert everything == MetricsQueryResult(
        points=[
            StoredPoint("a", T0, 1.0),
            StoredPoint("b", T0 + timedelta(seconds=1), 2.0),
            StoredPoint("a", T0 + timedelta(seconds=2), 3.0),
        ]
    )
    only_b = await queries.raw_points(
        MetricsQuery(
            name="cpu", source="b", start=T0, end=T0 + timedelta(seconds=1, microseconds=1)
        )
    )
    assert only_b == MetricsQueryResult(points=[StoredPoint("b", T0 + timedelta(seconds=1), 2.0)])
    # 'end' is exclusive
    assert await queries.raw_points(
        MetricsQuery(name="cpu", start=T0, end=T0 + timedelta(seconds=1))
    ) == MetricsQueryResult(points=[StoredPoint("a", T0, 1.0)])


async def test_too_many_points_is_refused_not_truncated(pool: asyncpg.Pool) -> None:
    await MetricsWriter(pool).write([batch("a", "cpu", list(range(5)), [1.0] * 5)])
    queries = MetricsQueries(pool, max_points=4)
    reply = await queries.raw_points(
        MetricsQuery(name="cpu", start=T0, end=T0 + timedelta(hours=1))
    )
    assert reply == RpcError(
        code="too_many_points", message="more than 4 points in that range; narrow 'from'/'to'"
    )


async def test_microseconds_survive_the_round_trip(pool: asyncpg.Pool) -> None:
    moment = T0 + timedelta(microseconds=654321)
    await MetricsWriter(pool).write(
        [SeriesBatch(source="a", name="fine", times_us=[to_epoch_us(moment)], values=[0.25])]
    )
    assert await pool.fetchval("SELECT time FROM metrics") == moment


async def test_metrics_is_a_hypertable_exactly_when_timescaledb_is_present(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        if await has_timescaledb(conn):
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM timescaledb_information.hypertables"
                    " WHERE hypertable_name = 'metrics'"
                )
                == 1
            )
        else:
            assert (
                await conn.fetchval("SELECT relkind FROM pg_class WHERE relname = 'metrics'")
                == b"r"
            )
            assert await conn.fetchval(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'metrics_series_time_key'"
            ) == (
                "CREATE UNIQUE INDEX metrics_series_time_key ON public.metrics"
                ' USING btree (series_id, "time")'
            )
