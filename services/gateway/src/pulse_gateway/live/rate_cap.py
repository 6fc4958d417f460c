"""A subscription's ``max_rate``: at most that many frames a second per series.

The first frame of a series goes out at once; frames that come sooner than the interval
allows are held, each replacing the previous one, and the latest goes out when the interval
is over: a client sees fewer frames, never stale values. (A cap on how often a client may
*ask* for something is a different thing: ``token_bucket.py``.)
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

from .fanout import Delivery

Send = Callable[[Delivery], None]
Series = tuple[str, str]


class RateCap:
    """Per series: when the last frame went out, the latest one held back, its timer."""

    __slots__ = ("latest", "sent_at", "timers")

    def __init__(self) -> None:
        self.sent_at: dict[Series, float] = {}
        self.latest: dict[Series, Delivery] = {}
        self.timers: dict[Series, asyncio.TimerHandle] = {}

    def offer(self, delivery: Delivery, max_rate: float, send: Send) -> None:
        """Send ``delivery`` now if its series' interval allows, else hold it as the latest."""
        interval = 1.0 / max_rate
        loop = asyncio.get_running_loop()
        now = loop.time()
        series = delivery.series
        due = self.sent_at.get(series, -math.inf) + interval
        if now >= due and series not in self.timers:
            self.sent_at[series] = now
            send(delivery)
            return
        self.latest[series] = delivery  # the latest of the interval replaces the earlier
        if series not in self.timers:
            self.timers[series] = loop.call_at(due, self._flush, series, send)

    def cancel(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()

    def _flush(self, series: Series, send: Send) -> None:
        self.timers.pop(series, None)
        delivery = self.latest.pop(series, None)
        if delivery is not None:
            self.sent_at[series] = asyncio.get_running_loop().time()
            send(delivery)
