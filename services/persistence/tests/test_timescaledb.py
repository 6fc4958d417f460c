"""What only TimescaleDB has: the policies, the rollups being read, backfill reaching them.

Skipped, with the reason, on a server without the extension (CI's plain PostgreSQL). Run them
with ``PULSE_TEST_DATABASE_URL`` pointing at a server that preloads TimescaleDB
(docs/operations.md, "TimescaleDB").
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pulse_contracts import MetricsQuery, MetricsQueryResult, SeriesBatch, to_epoch_us
from pulse_persistence.backfill import RollupRefresher
from pulse_persistence.policies import (
    AUDIT_HYPERTABLES,
    REFRESH,
    apply_audit_policies,
    apply_policies,
)
from pulse_persistence.queries import MetricsQueries, rollups_present
from pulse_persistence.schema import migrate, prepare_connection
from pulse_persistence.settings import PersistenceSettings
from pulse_persistence.writer import MetricsWriter
from pulse_runtime.database import create_pool, has_timescaledb
from pulse_runtime.settings import AuditSettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=4, init=prepare_connection)
    async with pool.acquire() as conn:
        await migrate(conn)
        timescale = await has_timescaledb(conn)
    if not timescale:
        await pool.close()
        pytest.skip(
            "TimescaleDB is not installed on this server: point PULSE_TEST_DATABASE_URL at "
            "one that preloads it to run the rollup, policy and backfill tests"
        )
    yield pool
    await pool.close()


async def test_the_audit_hypertables_retention_follows_the_setting(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await apply_audit_policies(conn, AuditSettings(retention_s=30 * 86400))
        policies = await jobs(conn)
        for table in AUDIT_HYPERTABLES:
            assert policies[(table, "retention")] == {
                "every": timedelta(days=1),
                "drop_after": "720:00:00",
            }
        # 0: kept for ever, no policy left behind.
        await apply_audit_policies(conn, AuditSettings(retention_s=0))
        policies = await jobs(conn)
        assert not [key for key in policies if key[0] in AUDIT_HYPERTABLES]


def minutes(source: str, first: datetime, count: int, step_s: int = 60) -> SeriesBatch:
    """``count`` points ``step_s`` apart from ``first``, with values that differ per minute."""
    return SeriesBatch(
        source=source,
        name="cpu",
        times_us=[to_epoch_us(first + timedelta(seconds=step_s * i)) for i in range(count)],
        values=[float((i * 7) % 97) for i in range(count)],
    )


def now_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


async def jobs(conn: asyncpg.Connection) -> dict[tuple[str, str], dict[str, object]]:
    """Pulse's policies: (relation, policy) -> the job's schedule and settings."""
    rows = await conn.fetch(
        "SELECT hypertable_name, proc_name, schedule_interval, config"
        " FROM timescaledb_information.jobs WHERE hypertable_schema = 'public'"
    )
    found: dict[tuple[str, str], dict[str, object]] = {}
    for row in rows:
        key = (row["hypertable_name"], row["proc_name"].removeprefix("policy_"))
        assert key not in found, f"{key} twice"
        config = json.loads(row["config"])
        found[key] = {
            "every": row["schedule_interval"],
            **{name: config[name] for name in config if not name.endswith("_id")},
        }
    return found


async def test_policies_follow_the_settings_and_are_replaced_when_they_change(
    pool: asyncpg.Pool,
) -> None:
    day = timedelta(days=1)
    async with pool.acquire() as conn:
        assert await rollups_present(conn)
        await apply_policies(
            conn, PersistenceSettings(compress_after_s=86400, retention_s=0, rollup_retention_s=0)
        )
        assert await jobs(conn) == {
            ("metrics_1m", "refresh_continuous_aggregate"): {
                "every": timedelta(minutes=1),
                "start_offset": "02:00:00",
                "end_offset": "00:01:00",
            },
            ("metrics_1h", "refresh_continuous_aggregate"): {
                "every": timedelta(minutes=30),
                "start_offset": "3 days",
                "end_offset": "01:00:00",
            },
            ("metrics", "compression"): {
                "every": timedelta(hours=12),
                "compress_after": "24:00:00",
            },
        }
        # The next start, with other settings: each policy replaced, none duplicated.
        await apply_policies(
            conn,
            PersistenceSettings(
                compress_after_s=3600, retention_s=30 * 86400, rollup_retention_s=365 * 86400
            ),
        )
        changed = await jobs(conn)
        assert changed[("metrics", "compression")]["compress_after"] == "01:00:00"
        assert changed[("metrics", "retention")] == {"every": day, "drop_after": "720:00:00"}
        for rollup in REFRESH:
            assert changed[(rollup, "retention")] == {"every": day, "drop_after": "8760:00:00"}
        assert len(changed) == 6


async def test_coarse_answers_are_read_from_the_rollups(pool: asyncpg.Pool) -> None:
    """Rows changed under materialised buckets (and not refreshed) leave the bucketed answer
    as it was, while the raw rows tell the new values: proof that it reads the aggregates."""
    start = now_minute().replace(minute=0) - timedelta(days=2)
    await MetricsWriter(pool).write([minutes("a", start, 600)])
    for rollup in REFRESH:
        await pool.execute(f"CALL refresh_continuous_aggregate('{rollup}', NULL, NULL)")
    rolled = MetricsQueries(pool, max_points=100_000, rollups=True)
    raw = MetricsQueries(pool, max_points=100_000, rollups=False)
    for max_points, resolution in ((10, "1h"), (20, "30m")):  # the 1-hour, the 1-minute rollup
        question = MetricsQuery(
            name="cpu", start=start, end=start + timedelta(hours=10), max_points=max_points
        )
        before = await rolled.metrics(question)
        assert isinstance(before, MetricsQueryResult)
        assert before.resolution == resolution
        assert sum(bucket.count for bucket in before.buckets) == 600
        assert before == await raw.metrics(question)

        await pool.execute("UPDATE metrics SET value = value + 1000")
        assert await rolled.metrics(question) == before
        changed = await raw.metrics(question)
        assert isinstance(changed, MetricsQueryResult)
        assert min(bucket.min for bucket in changed.buckets) >= 1000
        await pool.execute("UPDATE metrics SET value = value - 1000")


async def bucketed(
    queries: MetricsQueries, start: datetime, end: datetime, max_points: int
) -> list[tuple[str, datetime, float, float, int]]:
    answer = await queries.metrics(
        MetricsQuery(name="cpu", start=start, end=end, max_points=max_points)
    )
    assert isinstance(answer, MetricsQueryResult), answer
    assert answer.resolution != "raw"
    return [(b.source, b.time, b.min, b.max, b.count) for b in answer.buckets]


async def test_backfill_after_the_rollups_were_refreshed_appears_in_bucketed_answers(
    pool: asyncpg.Pool,
) -> None:
    """The outside test's case: points 3 days to 3 hours old arrive after the 1-minute
    rollup's policy ran; bucketed answers over that span must count every one of them."""
    now = now_minute()
    writer = MetricsWriter(pool)
    await writer.write([minutes("live", now - timedelta(hours=1), 60)])
    refresher = RollupRefresher(pool, REFRESH, delay_s=0.05)
    refresher.start()
    try:
        await refresher.settled()  # the catch-up at start: as the policies would have done
        # Backfill: one point a minute from 3 days ago to 3 hours ago (4,140 points).
        old = [minutes("old", now - timedelta(days=3), 4140)]
        await writer.write(old)
        refresher.note(old)
        await refresher.settled()
    finally:
        await refresher.stop()

    rolled = MetricsQueries(pool, max_points=100_000, rollups=True)
    raw = MetricsQueries(pool, max_points=100_000, rollups=False)
    start, end = now - timedelta(days=3), now - timedelta(hours=3)
    for max_points in (864, 144, 72):  # 5-minute, 30-minute and 1-hour buckets
        answer = await bucketed(rolled, start, end, max_points)
        assert sum(bucket[-1] for bucket in answer) == 4140
        assert answer == await bucketed(raw, start, end, max_points)


async def test_backfill_left_by_a_crash_is_refreshed_at_the_next_start(
    pool: asyncpg.Pool,
) -> None:
    """Written and committed, but the process ended before its refresh: the invalidation is
    stored, and the refresh at the next start materialises it."""
    now = now_minute()
    await MetricsWriter(pool).write([minutes("live", now - timedelta(hours=4), 240)])
    for rollup in REFRESH:  # the policies ran over the live rows
        await pool.execute(
            f"CALL refresh_continuous_aggregate('{rollup}', NULL, $1::timestamptz)",
            now - REFRESH[rollup].end,
        )
    await MetricsWriter(pool).write([minutes("old", now - timedelta(days=2), 600)])
    rolled = MetricsQueries(pool, max_points=100_000, rollups=True)
    start, end = now - timedelta(days=2), now - timedelta(days=1)
    assert await bucketed(rolled, start, end, 100) == []  # the defect, without a refresh

    refresher = RollupRefresher(pool, REFRESH, delay_s=0.05)  # the next start
    refresher.start()
    try:
        await refresher.settled()
    finally:
        await refresher.stop()
    assert sum(bucket[-1] for bucket in await bucketed(rolled, start, end, 100)) == 600


def test_only_points_older_than_a_rollups_window_end_need_a_refresh() -> None:
    """Newer points are above every watermark (read raw by real-time aggregation)."""
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    refresher = RollupRefresher(None, REFRESH, delay_s=1, clock=lambda: now)
    assert not refresher.note([minutes("live", now - timedelta(seconds=59), 3, step_s=1)])
    assert refresher.note([minutes("late", now - timedelta(seconds=61), 3, step_s=1)])
