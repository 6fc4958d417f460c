"""A subscription's history made to fit the points asked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pulse_contracts import to_epoch_us
from pulse_gateway.live.downsampling import downsample


def test_history_is_raw_when_it_fits_and_buckets_when_it_does_not() -> None:
    start = datetime.now(UTC) - timedelta(minutes=10)
    base = to_epoch_us(start.replace(second=0, microsecond=0))
    points = {("s", "n"): [(base + i * 1_000_000, float(i)) for i in range(600)]}
    raw = downsample({k: list(v) for k, v in points.items()}, start, 1000)
    assert raw.bucket_s == 0
    assert [p.avg for p in raw.series[0].points] == [float(i) for i in range(600)]
    coarse = downsample({k: list(v) for k, v in points.items()}, start, 100)
    assert coarse.bucket_s > 0
    buckets = coarse.series[0].points
    assert len(buckets) <= 100
    assert sum(b.count for b in buckets) == 600
    first = buckets[0]
    assert first.min <= first.avg <= first.max
