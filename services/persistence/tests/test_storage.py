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
from pulse_runtime.database import answered, create_pool, has_timescaledb

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
    merges: list[None] = []
    writer = MetricsWriter(pool, on_merge=lambda: merges.append(None))
    first = [batch("a", "cpu", [0, 1, 2], [1, 2, 3]), batch("b", "cpu", [0], [9])]
    assert await writer.write(first) == 4
    assert merges == []  # new rows go straight in with COPY
    assert await writer.write(first) == 0  # a redelivered batch adds nothing
    overlapping = [batch("a", "cpu", [2, 3], [3, 4]), batch("a", "cpu", [3], [4])]
    assert await writer.write(overlapping) == 1
    assert len(merges) == 2  # both met stored rows and were merged instead
    assert await pool.fetchval("SELECT count(*) FROM metrics") == 5
    rows = await pool.fetch("SELECT value FROM metrics ORDER BY series_id, time")
    assert [row["value"] for row in rows] == [1, 2, 3, 4, 9]  # the first write of a point wins
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
    everything = await queries.metrics(
        MetricsQuery(name="cpu", start=T0, end=T0 + timedelta(minutes=1))
    )
    assert everything == MetricsQueryResult(
        points=[
            StoredPoint("a", T0, 1.0),
            StoredPoint("b", T0 + timedelta(seconds=1), 2.0),
            StoredPoint("a", T0 + timedelta(seconds=2), 3.0),
        ]
    )
    only_b = await queries.metrics(
        MetricsQuery(
            name="cpu", source="b", start=T0, end=T0 + timedelta(seconds=1, microseconds=1)
        )
    )
    assert only_b == MetricsQueryResult(points=[StoredPoint("b", T0 + timedelta(seconds=1), 2.0)])
    # 'end' is exclusive
    assert await queries.metrics(
        MetricsQuery(name="cpu", start=T0, end=T0 + timedelta(seconds=1))
    ) == MetricsQueryResult(points=[StoredPoint("a", T0, 1.0)])


async def test_too_many_points_is_refused_not_truncated(pool: asyncpg.Pool) -> None:
    await MetricsWriter(pool).write([batch("a", "cpu", list(range(5)), [1.0] * 5)])
    queries = MetricsQueries(pool, max_points=4)
    reply = await queries.metrics(MetricsQuery(name="cpu", start=T0, end=T0 + timedelta(hours=1)))
    assert reply == RpcError(
        code="too_many_points",
        message="more than 4 points in that range; narrow 'from'/'to' or give max_points",
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


async def _week_of_minutes(pool: asyncpg.Pool) -> None:
    """Two sources, one point a minute for a week, values that make every aggregate differ."""
    minutes = 7 * 24 * 60
    await MetricsWriter(pool).write(
        [
            batch(
                source,
                "cpu",
                [60 * i for i in range(minutes)],
                [float((i * k) % 97) for i in range(minutes)],
            )
            for source, k in (("a", 7), ("b", 13))
        ]
    )


async def test_max_points_picks_raw_when_it_fits(pool: asyncpg.Pool) -> None:
    await MetricsWriter(pool).write([batch("a", "cpu", [0, 1, 2], [1.0, 2.0, 3.0])])
    queries = MetricsQueries(pool, max_points=100_000)
    reply = await queries.metrics(
        MetricsQuery(name="cpu", start=T0, end=T0 + timedelta(minutes=1), max_points=10)
    )
    assert isinstance(reply, MetricsQueryResult)
    assert reply.resolution == "raw"
    assert [(b.min, b.max, b.avg, b.count) for b in reply.buckets] == [
        (1.0, 1.0, 1.0, 1),
        (2.0, 2.0, 2.0, 1),
        (3.0, 3.0, 3.0, 1),
    ]


async def test_buckets_aggregate_min_max_avg_count(pool: asyncpg.Pool) -> None:
    await _week_of_minutes(pool)
    queries = MetricsQueries(pool, max_points=100_000)
    reply = await queries.metrics(
        MetricsQuery(name="cpu", source="a", start=T0, end=T0 + timedelta(days=7), max_points=1000)
    )
    assert isinstance(reply, MetricsQueryResult)
    assert (reply.resolution, reply.bucket_seconds) == ("15m", 900)
    assert len(reply.buckets) == 7 * 24 * 4
    first = reply.buckets[0]
    values = [float((i * 7) % 97) for i in range(15)]
    assert (first.time, first.min, first.max, first.count) == (T0, min(values), max(values), 15)
    assert first.avg == pytest.approx(sum(values) / 15)


async def test_rollups_and_raw_rows_give_the_same_answers(pool: asyncpg.Pool) -> None:
    """TimescaleDB answers coarse questions from its continuous aggregates, plain PostgreSQL
    from the raw rows. On TimescaleDB the real aggregates, fully materialised, are compared;
    on plain PostgreSQL the rollup query runs against tables built like them."""
    await _week_of_minutes(pool)
    async with pool.acquire() as conn:
        timescale = await has_timescaledb(conn)
        for rollup, width in (("metrics_1m", "1 minute"), ("metrics_1h", "1 hour")):
            if timescale:
                await conn.execute(f"CALL refresh_continuous_aggregate('{rollup}', NULL, NULL)")
                continue
            await conn.execute(
                f"CREATE TABLE {rollup} AS SELECT series_id,"
                f" date_bin('{width}', time, timestamptz 'epoch') AS bucket,"
                " min(value) AS min, max(value) AS max, sum(value) AS sum, count(*) AS count"
                " FROM metrics GROUP BY 1, 2"
            )
    raw = MetricsQueries(pool, max_points=100_000, rollups=False)
    rolled = MetricsQueries(pool, max_points=100_000, rollups=True)
    for span, max_points in (
        (timedelta(days=7), 1000),
        (timedelta(days=7), 100),
        (timedelta(hours=30), 50),
    ):
        question = MetricsQuery(
            name="cpu", start=T0 + timedelta(seconds=17), end=T0 + span, max_points=max_points
        )
        expected = await raw.metrics(question)
        answer = await rolled.metrics(question)
        assert isinstance(expected, MetricsQueryResult)
        assert isinstance(answer, MetricsQueryResult)
        assert answer.resolution == expected.resolution
        assert [(b.source, b.time, b.min, b.max, b.count) for b in answer.buckets] == [
            (b.source, b.time, b.min, b.max, b.count) for b in expected.buckets
        ]
        assert [b.avg for b in answer.buckets] == pytest.approx([b.avg for b in expected.buckets])


async def test_invalid_max_points_is_refused(pool: asyncpg.Pool) -> None:
    reply = await MetricsQueries(pool, max_points=500).metrics(
        MetricsQuery(name="cpu", start=T0, end=T0 + timedelta(hours=1), max_points=501)
    )
    assert reply == RpcError(
        code="invalid_max_points", message="max_points must be between 1 and 500"
    )


async def test_catalog_lists_every_series_with_its_latest_value(pool: asyncpg.Pool) -> None:
    await MetricsWriter(pool).write(
        [batch("a", "cpu", [0, 5], [1.0, 2.0]), batch("b", "mem", [3], [40.0])]
    )
    catalog = await MetricsQueries(pool, max_points=10).catalog()
    assert [(s.name, s.source, s.unit, s.latest_time, s.latest_value) for s in catalog.series] == [
        ("cpu", "a", "percent", T0 + timedelta(seconds=5), 2.0),
        ("mem", "b", "percent", T0 + timedelta(seconds=3), 40.0),
    ]


async def test_a_query_with_text_the_database_cannot_take_is_a_bad_request(
    pool: asyncpg.Pool,
) -> None:
    """The gateway refuses a NUL in a name; a query that gets here anyway is the asker's fault,
    answered as such (it was an internal_error, a 503 at the gateway)."""
    queries = MetricsQueries(pool, max_points=10)
    query = MetricsQuery(name="cpu\x00", start=T0, end=T0 + timedelta(hours=1))
    reply = await answered(lambda: queries.metrics(query), failed="the query failed")
    assert isinstance(reply, RpcError)
    assert reply.code == "bad_request"
