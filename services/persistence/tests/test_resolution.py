from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pulse_persistence.resolution import aligned, bucket_width_s, label

T0 = datetime(2026, 11, 22, 10, 0, 30, tzinfo=UTC)
HOUR = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("span", "max_points", "width"),
    [
        (timedelta(minutes=5), 1000, 1),
        (timedelta(hours=1), 1000, 5),
        (timedelta(hours=24), 1440, 60),
        (timedelta(hours=24), 1000, 120),
        (timedelta(days=7), 1000, 900),
        (timedelta(days=7), 100, 7200),
        (timedelta(days=365), 100, 4 * 86400),
    ],
)
def test_the_finest_nice_width_that_fits(span: timedelta, max_points: int, width: int) -> None:
    assert bucket_width_s(HOUR, HOUR + span, max_points) == width
    assert span.total_seconds() / width <= max_points


def test_widening_to_whole_buckets_never_exceeds_max_points() -> None:
    # 24 h from 10:00:30 spans 1441 whole minutes: 1-minute buckets would be one too many
    assert bucket_width_s(T0, T0 + timedelta(hours=24), 1440) == 120
    for max_points in (1, 7, 100, 1000, 1440):
        for span in (timedelta(minutes=7), timedelta(hours=5), timedelta(days=3)):
            width = bucket_width_s(T0, T0 + span, max_points)
            first, last = aligned(T0, T0 + span, width)
            assert (last - first).total_seconds() / width <= max_points


def test_labels() -> None:
    assert [label(w) for w in (5, 60, 900, 3600, 86400, 90)] == [
        "5s",
        "1m",
        "15m",
        "1h",
        "1d",
        "90s",
    ]


def test_ranges_widen_to_whole_epoch_aligned_buckets() -> None:
    start, end = aligned(T0, T0 + timedelta(hours=1), 900)
    assert start == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 22, 11, 15, tzinfo=UTC)
    exact = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert aligned(exact, exact + timedelta(hours=1), 3600) == (exact, exact + timedelta(hours=1))
