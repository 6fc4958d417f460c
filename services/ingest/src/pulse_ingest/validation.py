"""Producer input to validated series batches: one code path for every way metrics arrive."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta

import msgspec
from pulse_contracts import Codec, MetricPoint, SeriesBatch, to_epoch_us


class InvalidMetrics(ValueError):
    """The whole message is refused; ``str(self)`` is the human-readable reason."""


class MetricsValidator:
    def __init__(self, codec: Codec, *, max_future_skew_s: float, max_points: int) -> None:
        self._codec = codec
        self._max_future_skew = timedelta(seconds=max_future_skew_s)
        self._max_points = max_points

    def validate(self, data: bytes, content_type: str | None, now: datetime) -> list[SeriesBatch]:
        """Decode, check and group by series, keeping each series' points in arrival order."""
        try:
            decoded = self._codec.decode_producer_metrics(data, content_type)
        except msgspec.ValidationError as exc:
            raise InvalidMetrics(f"invalid metric point: {exc}") from None
        except msgspec.DecodeError as exc:
            fmt = "msgpack" if content_type and "msgpack" in content_type else "JSON"
            raise InvalidMetrics(f"malformed {fmt}: {exc}") from None
        points = [decoded] if isinstance(decoded, MetricPoint) else decoded
        if not points:
            raise InvalidMetrics("empty batch: send at least one point")
        if len(points) > self._max_points:
            raise InvalidMetrics(
                f"batch of {len(points)} points exceeds the limit of {self._max_points}"
            )
        latest_allowed = now + self._max_future_skew
        series: dict[tuple[str, str], list[MetricPoint]] = defaultdict(list)
        for index, point in enumerate(points):
            if not math.isfinite(point.value):
                raise InvalidMetrics(f"point {index}: value must be a finite number")
            if point.time > latest_allowed:
                raise InvalidMetrics(
                    f"point {index}: time {point.time.isoformat()} is more than "
                    f"{self._max_future_skew.total_seconds():g} s in the future"
                )
            series[(point.source, point.name)].append(point)
        return [
            SeriesBatch(
                source=source,
                name=name,
                times_us=[to_epoch_us(point.time) for point in group],
                values=[point.value for point in group],
                unit=group[-1].unit,
                tags=group[-1].tags,
            )
            for (source, name), group in series.items()
        ]
