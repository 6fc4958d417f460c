"""Request/reply shapes for ``rpc.query.*``; errors come back as a typed :class:`RpcError`."""

from __future__ import annotations

from datetime import datetime

import msgspec


class MetricsQuery(msgspec.Struct, frozen=True, kw_only=True, tag="metrics_query"):
    """Raw points of one metric name between ``start`` (inclusive) and ``end`` (exclusive)."""

    name: str
    start: datetime
    end: datetime
    source: str | None = None
    limit: int = 100_000


class StoredPoint(msgspec.Struct, frozen=True, array_like=True):
    source: str
    time: datetime
    value: float


class MetricsQueryResult(msgspec.Struct, frozen=True, kw_only=True, tag="metrics_result"):
    points: list[StoredPoint]


class RpcError(msgspec.Struct, frozen=True, kw_only=True, tag="error"):
    """A refused or failed request. ``code`` is stable and documented; ``message`` is for people."""

    code: str
    message: str
    retry_after_s: int | None = None


MetricsQueryReply = MetricsQueryResult | RpcError
