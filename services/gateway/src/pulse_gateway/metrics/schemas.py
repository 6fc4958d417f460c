"""JSON shapes of the metrics REST answers (and of ``/ws/metrics`` frames).

None reuses a contract Struct, each for the reason its docstring gives: the ``rpc.query.*``
replies are tagged (a ``type`` field in their JSON) and carry points as array-like rows, and
reusing a contract's Struct would rename its component in the OpenAPI document (and the
dashboard's generated types).
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class MetricPointOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One point of one series (a row of ``/api/v1/metrics``, a frame of ``/ws/metrics``).

    In a bucketed answer (``max_points``) it is one bucket: ``timestamp`` is its start,
    ``value`` its average, with ``min``, ``max``, ``avg`` and ``count`` beside it. Both come
    from the contract's array-like :class:`~pulse_contracts.StoredPoint` and
    :class:`~pulse_contracts.StoredBucket`, named here and with the metric's name (``type``).
    """

    timestamp: datetime
    value: float
    type: str
    source: str
    min: float | None = None
    max: float | None = None
    avg: float | None = None
    count: int | None = None


class MetricsHistory(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """:class:`~pulse_contracts.MetricsQueryResult` for people: one list of points or buckets,
    and ``bucket_seconds`` left out for raw points rather than 0."""

    series: list[MetricPointOut]
    resolution: str
    """``raw``, or the bucket width: ``10s``, ``1m``, ``15m``, ``1h``, ``1d`` …; always present
    (no default, so ``omit_defaults`` cannot drop it), whether or not ``max_points`` was given."""
    bucket_seconds: int | None = None
    """The bucket width in seconds; absent when ``resolution`` is ``raw``."""


class SeriesOut(msgspec.Struct, frozen=True, kw_only=True):
    """The fields of the contract's :class:`~pulse_contracts.SeriesInfo`, copied rather than
    reused: that one would be the ``SeriesInfo`` component of the document instead of
    ``SeriesOut``, and its JSON would have ``source`` before ``name``."""

    name: str
    source: str
    unit: str | None
    tags: dict[str, str]
    latest_time: datetime | None
    latest_value: float | None


class SeriesCatalog(msgspec.Struct, frozen=True, kw_only=True):
    """The contract's :class:`~pulse_contracts.Catalog` without its tag."""

    series: list[SeriesOut]
