"""A live channel's most recent deliveries, kept so that a resume can be served from memory.

After a reconnect storm every client asks for "everything after my last sequence", and nearly
all of them ask for the last few seconds: frames the channel delivered moments ago. Kept here
(bounded by count and by age), those resumes cost JetStream nothing (docs/adr/0015).

The ring is only useful if it is complete: it answers for a sequence only when it holds every
message of the channel after it. ``floor`` is that promise: every channel message with a
sequence above it is held (or was never published). It starts just below the first delivery
the channel saw (what came before it was never seen here), rises as old deliveries are
dropped, and jumps when the channel's live flow had a hole it could not fill.
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .fanout import Delivery


class RecentDeliveries:
    __slots__ = ("_clock", "_floor", "_frames", "_kept", "_window_s")

    def __init__(
        self, frames: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._frames = frames
        self._window_s = window_s
        self._clock = clock
        self._kept: deque[tuple[float, Delivery]] = deque()
        self._floor: int | None = None  # None: nothing can be promised yet

    def __len__(self) -> int:
        return len(self._kept)

    def add(self, delivery: Delivery) -> None:
        """Deliveries come in sequence order, each channel message once."""
        if not self._frames:
            return
        if self._floor is None:
            self._floor = delivery.seq - 1
        now = self._clock()
        self._kept.append((now, delivery))
        self._trim(now)

    def broken(self, before_seq: int) -> None:
        """Messages before ``before_seq`` may be missing: nothing older is promised."""
        self._kept.clear()
        self._floor = before_seq - 1

    @property
    def floor(self) -> int | None:
        return self._floor

    def backfilled(self, older: list[Delivery], after_seq: int) -> None:
        """``older``: every channel message after ``after_seq`` up to the floor, read back
        from the stream, in order. Kept in front, so the floor drops to ``after_seq`` (if
        they fit: the count limit drops them again otherwise)."""
        if not self._frames or self._floor is None or after_seq >= self._floor:
            return
        kept = self._kept
        stamp = kept[0][0] if kept else self._clock()  # the age order stays intact
        for delivery in reversed(older):
            if delivery.seq <= self._floor:
                kept.appendleft((stamp, delivery))
        self._floor = after_seq
        self._trim(self._clock())

    def after(self, seq: int) -> list[Delivery] | None:
        """Every channel message after ``seq``, in order, or None when some of them may
        not be held (the caller reads the stream instead)."""
        self._trim(self._clock())
        if self._floor is None or seq < self._floor:
            return None
        kept = self._kept
        start = bisect.bisect_right(kept, seq, key=lambda entry: entry[1].seq)
        return [kept[index][1] for index in range(start, len(kept))]

    def _trim(self, now: float) -> None:
        kept = self._kept
        oldest = now - self._window_s
        while kept and (len(kept) > self._frames or kept[0][0] < oldest):
            _, dropped = kept.popleft()
            self._floor = dropped.seq
