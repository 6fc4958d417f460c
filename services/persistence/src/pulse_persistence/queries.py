"""Answers to ``rpc.query.metrics`` from the database."""

from __future__ import annotations

import asyncpg
from pulse_contracts import (
    MetricsQuery,
    MetricsQueryReply,
    MetricsQueryResult,
    RpcError,
    StoredPoint,
)

_RAW_POINTS = """
SELECT s.source, m.time, m.value
FROM metrics m JOIN series s ON s.id = m.series_id
WHERE s.name = $1 AND ($2::text IS NULL OR s.source = $2) AND m.time >= $3 AND m.time < $4
ORDER BY m.time, s.source
LIMIT $5
"""


class MetricsQueries:
    def __init__(self, pool: asyncpg.Pool, *, max_points: int) -> None:
        self._pool = pool
        self._max_points = max_points

    async def raw_points(self, query: MetricsQuery) -> MetricsQueryReply:
        if query.end <= query.start:
            return RpcError(code="invalid_range", message="'from' must be earlier than 'to'")
        limit = min(query.limit, self._max_points)
        rows = await self._pool.fetch(
            _RAW_POINTS, query.name, query.source, query.start, query.end, limit + 1
        )
        if len(rows) > limit:
            return RpcError(
                code="too_many_points",
                message=f"more than {limit} points in that range; narrow 'from'/'to'",
            )
        return MetricsQueryResult(points=[StoredPoint(*row) for row in rows])
