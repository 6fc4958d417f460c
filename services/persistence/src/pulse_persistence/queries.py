"""Answers to ``rpc.query.*`` from the database: raw points, buckets, the series catalog."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import msgspec
from pulse_contracts import (
    Catalog,
    MetricsQuery,
    MetricsQueryReply,
    MetricsQueryResult,
    RpcError,
    SeriesInfo,
    StoredBucket,
    StoredPoint,
)

from .resolution import aligned, bucket_width_s, label

_MATCH = "s.name = $1 AND ($2::text IS NULL OR s.source = $2)"

_RAW_POINTS = f"""
SELECT s.source, m.time, m.value
FROM metrics m JOIN series s ON s.id = m.series_id
WHERE {_MATCH} AND m.time >= $3 AND m.time < $4
ORDER BY m.time, s.source
LIMIT $5
"""

_SERIES_COUNT = f"SELECT count(*) FROM series s WHERE {_MATCH}"

_CAPPED_COUNT = f"""
SELECT count(*) FROM (
    SELECT 1 FROM metrics m JOIN series s ON s.id = m.series_id
    WHERE {_MATCH} AND m.time >= $3 AND m.time < $4 LIMIT $5
) capped
"""

_RAW_BUCKETS = f"""
SELECT s.source, date_bin($5::interval, m.time, timestamptz 'epoch') AS bucket,
       min(m.value), max(m.value), avg(m.value), count(*)
FROM metrics m JOIN series s ON s.id = m.series_id
WHERE {_MATCH} AND m.time >= $3 AND m.time < $4
GROUP BY s.source, bucket
ORDER BY bucket, s.source
"""

# Re-aggregating a rollup: min of mins, max of maxes, sum of sums over sum of counts.
_ROLLUP_BUCKETS = """
SELECT s.source, date_bin($5::interval, r.bucket, timestamptz 'epoch') AS b,
       min(r.min), max(r.max), sum(r.sum) / sum(r.count), sum(r.count)::bigint
FROM {rollup} r JOIN series s ON s.id = r.series_id
WHERE {match} AND r.bucket >= $3 AND r.bucket < $4
GROUP BY s.source, b
ORDER BY b, s.source
"""

_CATALOG = """
SELECT s.source, s.name, s.unit, s.tags, latest.time, latest.value
FROM series s
LEFT JOIN LATERAL (
    SELECT m.time, m.value FROM metrics m WHERE m.series_id = s.id ORDER BY m.time DESC LIMIT 1
) latest ON true
ORDER BY s.name, s.source
"""

ROLLUPS_S = {3600: "metrics_1h", 60: "metrics_1m"}


class MetricsQueries:
    def __init__(self, pool: asyncpg.Pool, *, max_points: int, rollups: bool = False) -> None:
        """``rollups``: the TimescaleDB continuous aggregates exist (see migration 0002)."""
        self._pool = pool
        self._max_points = max_points
        self._rollups = rollups

    async def metrics(self, query: MetricsQuery) -> MetricsQueryReply:
        if query.end <= query.start:
            return RpcError(code="invalid_range", message="'from' must be earlier than 'to'")
        if query.max_points is None:
            return await self.raw_points(query)
        if not 1 <= query.max_points <= self._max_points:
            return RpcError(
                code="invalid_max_points",
                message=f"max_points must be between 1 and {self._max_points}",
            )
        return await self.buckets(query, query.max_points)

    async def raw_points(self, query: MetricsQuery) -> MetricsQueryReply:
        limit = min(query.limit, self._max_points)
        rows = await self._pool.fetch(
            _RAW_POINTS, query.name, query.source, query.start, query.end, limit + 1
        )
        if len(rows) > limit:
            return RpcError(
                code="too_many_points",
                message=f"more than {limit} points in that range; narrow 'from'/'to'"
                " or give max_points",
            )
        return MetricsQueryResult(points=[StoredPoint(*row) for row in rows])

    async def buckets(self, query: MetricsQuery, max_points: int) -> MetricsQueryResult:
        """Raw points when they fit, else the finest nice bucket width that does."""
        args = (query.name, query.source, query.start, query.end)
        series = await self._pool.fetchval(_SERIES_COUNT, query.name, query.source)
        cap = max_points * max(1, series)
        if await self._pool.fetchval(_CAPPED_COUNT, *args, cap + 1) <= cap:
            rows = await self._pool.fetch(_RAW_POINTS, *args, cap)
            return MetricsQueryResult(
                buckets=[StoredBucket(r[0], r[1], r[2], r[2], r[2], 1) for r in rows],
                resolution="raw",
            )
        width_s = bucket_width_s(query.start, query.end, max_points)
        start, end = aligned(query.start, query.end, width_s)
        width = timedelta(seconds=width_s)
        rows = await self._pool.fetch(
            self._bucket_sql(width_s), query.name, query.source, start, end, width
        )
        return MetricsQueryResult(
            buckets=[StoredBucket(*row) for row in rows],
            resolution=label(width_s),
            bucket_seconds=width_s,
        )

    def _bucket_sql(self, width_s: int) -> str:
        if self._rollups:
            for rollup_s, rollup in ROLLUPS_S.items():
                if width_s % rollup_s == 0:
                    return _ROLLUP_BUCKETS.format(rollup=rollup, match=_MATCH)
        return _RAW_BUCKETS

    async def catalog(self) -> Catalog:
        rows = await self._pool.fetch(_CATALOG)
        return Catalog(
            series=[
                SeriesInfo(
                    source=row[0],
                    name=row[1],
                    unit=row[2],
                    tags=msgspec.json.decode(row[3]) if isinstance(row[3], str) else row[3],
                    latest_time=row[4],
                    latest_value=row[5],
                )
                for row in rows
            ]
        )


async def rollups_present(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass('metrics_1h') IS NOT NULL"))
