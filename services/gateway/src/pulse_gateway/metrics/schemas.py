"""JSON shapes of the gateway's REST answers and WebSocket frames."""

from __future__ import annotations

from datetime import datetime

import msgspec


class MetricPointOut(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One point of one series (a row of ``/api/v1/metrics``, a frame of ``/ws/metrics``).

    In a bucketed answer (``max_points``) it is one bucket: ``timestamp`` is its start,
    ``value`` its average, with ``min``, ``max``, ``avg`` and ``count`` beside it.
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
    series: list[MetricPointOut]
    resolution: str
    """``raw``, or the bucket width: ``10s``, ``1m``, ``15m``, ``1h``, ``1d`` …; always present
    (no default, so ``omit_defaults`` cannot drop it), whether or not ``max_points`` was given."""
    bucket_seconds: int | None = None
    """The bucket width in seconds; absent when ``resolution`` is ``raw``."""


class SeriesOut(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    source: str
    unit: str | None
    tags: dict[str, str]
    latest_time: datetime | None
    latest_value: float | None


class SeriesCatalog(msgspec.Struct, frozen=True, kw_only=True):
    series: list[SeriesOut]
