"""A token bucket: how often one socket may ask for something (subscribe, unsubscribe) and
how many refused frames it may send before it is closed."""

from __future__ import annotations

import time


class TokenBucket:
    """``burst`` tokens at first, refilled at ``rate`` a second; each request takes one."""

    __slots__ = ("_at", "_burst", "_rate", "_tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
