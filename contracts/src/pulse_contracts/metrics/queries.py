"""History and catalog of the metrics: request/reply on ``rpc.query.*``; errors come back as a
typed :class:`~pulse_contracts.rpc.RpcError`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from pulse_contracts.rpc import RpcError

PartBytes = Annotated[int, msgspec.Meta(ge=0)]


class MetricsQuery(msgspec.Struct, frozen=True, kw_only=True, tag="metrics_query"):
    """One metric name between ``start`` (inclusive) and ``end`` (exclusive).

    Without ``max_points``: raw points (at most ``limit``). With it: at most that many buckets,
    at the finest resolution that fits (raw, 1m, 1h or an on-the-fly width).
    """

    name: str
    start: datetime
    end: datetime
    source: str | None = None
    limit: int = 100_000
    max_points: int | None = None
    part_bytes: PartBytes = 0
    """The asker takes an answer too big for one NATS message in parts of at most this many
    bytes (:mod:`pulse_contracts.reply_parts`); 0, as from gateways before parts existed: one
    message only, or the error ``history_too_large``."""


class StoredPoint(msgspec.Struct, frozen=True, array_like=True):
    source: str
    time: datetime
    value: float


class StoredBucket(msgspec.Struct, frozen=True, array_like=True):
    """Aggregates of one source's points in ``[time, time + resolution)``."""

    source: str
    time: datetime
    min: float
    max: float
    avg: float
    count: int


class MetricsQueryResult(msgspec.Struct, frozen=True, kw_only=True, tag="metrics_result"):
    points: list[StoredPoint] = msgspec.field(default_factory=list)
    buckets: list[StoredBucket] = msgspec.field(default_factory=list)
    resolution: str = "raw"
    """``raw`` or the bucket width as ``<n>s``/``<n>m``/``<n>h``/``<n>d``."""
    bucket_seconds: int = 0


class CatalogQuery(msgspec.Struct, frozen=True, kw_only=True, tag="catalog_query"):
    part_bytes: PartBytes = 0
    """As :attr:`MetricsQuery.part_bytes`."""


class SeriesInfo(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    name: str
    unit: str | None
    tags: dict[str, str]
    latest_time: datetime | None
    latest_value: float | None


class Catalog(msgspec.Struct, frozen=True, kw_only=True, tag="catalog"):
    series: list[SeriesInfo]


MetricsQueryReply = MetricsQueryResult | RpcError
CatalogReply = Catalog | RpcError
