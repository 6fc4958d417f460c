"""Which resolution answers a history question in at most ``max_points`` buckets."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from pulse_contracts import EPOCH

# Widths a person reads easily; every one divides the next larger unit, so buckets line up
# with minutes, hours and days, and with the 1-minute and 1-hour rollups.
NICE_WIDTHS_S = (
    1, 2, 5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800,
    3600, 7200, 10800, 21600, 43200,
    86400,
)  # fmt: skip


def bucket_width_s(start: datetime, end: datetime, max_points: int) -> int:
    """The smallest nice width that cuts ``[start, end)``, widened to whole buckets, into at
    most ``max_points`` buckets."""
    needed = (end - start).total_seconds() / max_points
    days = math.ceil(needed / 86400)
    for width in (*NICE_WIDTHS_S, *(86400 * n for n in range(days, days + 3))):
        if width < needed:
            continue
        first, last = aligned(start, end, width)
        if (last - first).total_seconds() / width <= max_points:
            return width
    return 86400 * (days + 3)


def label(width_s: int) -> str:
    for unit, seconds in (("d", 86400), ("h", 3600), ("m", 60)):
        if width_s % seconds == 0:
            return f"{width_s // seconds}{unit}"
    return f"{width_s}s"


def aligned(start: datetime, end: datetime, width_s: int) -> tuple[datetime, datetime]:
    """The range widened to whole buckets (epoch-aligned), so every bucket is complete and
    raw rows and rollups give the same answer."""
    width = timedelta(seconds=width_s)
    first = EPOCH + ((start - EPOCH) // width) * width
    last = EPOCH + -((EPOCH - end) // width) * width
    return first, last
