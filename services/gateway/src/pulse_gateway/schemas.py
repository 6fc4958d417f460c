"""JSON shapes of the gateway's REST answers and WebSocket frames."""

from __future__ import annotations

from datetime import datetime

import msgspec


class MetricPointOut(msgspec.Struct, frozen=True, kw_only=True):
    """One point of one series: a row of ``/api/v1/metrics`` and a frame of ``/ws/metrics``."""

    timestamp: datetime
    value: float
    type: str
    source: str


class MetricsHistory(msgspec.Struct, frozen=True, kw_only=True):
    series: list[MetricPointOut]
