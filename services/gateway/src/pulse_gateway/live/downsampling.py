"""A subscription's history, made to fit in the points the client asked for at most."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from pulse_contracts import EPOCH

from .frames import Bucket, History, SeriesHistory


def downsample(
    points: dict[tuple[str, str], list[tuple[int, float]]], start: datetime, max_points: int
) -> History:
    """Raw points when they fit in ``max_points``, else equal buckets (whole seconds, aligned
    to the epoch) small enough that every series together stays within it."""
    total = sum(len(series) for series in points.values())
    window_s = max(1.0, (datetime.now(UTC) - start).total_seconds())
    if total <= max_points:
        width_s = 0
    else:
        per_series = max(1, max_points // max(1, len(points)) - 1)
        width_s = max(1, math.ceil(window_s / per_series))
    series = []
    for (source, name), measured in sorted(points.items()):
        measured.sort()
        if width_s == 0:
            buckets = [Bucket(time=_time(t), min=v, max=v, avg=v, count=1) for t, v in measured]
        else:
            buckets = _buckets(measured, width_s * 1_000_000)
        series.append(SeriesHistory(source=source, name=name, points=buckets))
    return History(start=start, bucket_s=width_s, series=series)


def _buckets(measured: list[tuple[int, float]], width_us: int) -> list[Bucket]:
    grouped: dict[int, list[float]] = defaultdict(list)
    for time_us, value in measured:
        grouped[time_us - time_us % width_us].append(value)
    return [
        Bucket(
            time=_time(bucket),
            min=min(values),
            max=max(values),
            avg=sum(values) / len(values),
            count=len(values),
        )
        for bucket, values in grouped.items()
    ]


def _time(time_us: int) -> datetime:
    return EPOCH + timedelta(microseconds=time_us)
