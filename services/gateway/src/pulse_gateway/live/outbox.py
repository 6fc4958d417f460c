"""One client's outgoing frames: bounded, so a slow reader costs memory only up to a limit.

When the outbox is full, each series keeps only its latest frame (with a gap frame telling
the client which sequences it skipped); if it fills up again within the grace period, or the
conflated frames alone still fill it, the client is a slow consumer and is let go.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import NamedTuple

Payload = str | bytes
GapPayload = Callable[[str, int, int], Payload]
"""(channel, after_seq, before_seq) -> an encoded gap frame."""


class _Item(NamedTuple):
    payload: Payload
    channel: str | None = None  # None: a control frame, never dropped
    series: tuple[str, str] | None = None
    seq: int = 0


class Outbox:
    __slots__ = (
        "_capacity", "_conflated_at", "_gap", "_grace_s", "_items", "_ready", "_taken",
        "conflations",
    )  # fmt: skip

    def __init__(self, capacity: int, grace_s: float, gap: GapPayload) -> None:
        self._capacity = capacity
        self._grace_s = grace_s
        self._gap = gap
        # A list, not a deque: it is nearly always empty, and an empty deque is ten times bigger.
        self._items: list[_Item] = []
        self._ready: asyncio.Event | None = None  # made when a reader first has to wait
        self._taken: dict[str, int] = {}  # channel -> last sequence handed to the socket
        self._conflated_at = -float("inf")
        self.conflations = 0

    def __len__(self) -> int:
        return len(self._items)

    def control(self, payload: Payload) -> None:
        self._items.append(_Item(payload))
        if self._ready is not None:
            self._ready.set()

    def data(self, channel: str, series: tuple[str, str], seq: int, payload: Payload) -> bool:
        """Queue a data frame; False when the client is hopelessly behind."""
        if len(self._items) >= self._capacity and not self._conflate():
            return False
        self._items.append(_Item(payload, channel, series, seq))
        if self._ready is not None:
            self._ready.set()
        return True

    async def next(self) -> Payload:
        while not self._items:
            if self._ready is None:
                self._ready = asyncio.Event()
            self._ready.clear()
            await self._ready.wait()
        item = self._items.pop(0)
        if item.channel is not None:
            self._taken[item.channel] = item.seq
        return item.payload

    def _conflate(self) -> bool:
        now = time.monotonic()
        if now - self._conflated_at < self._grace_s:
            return False
        self._conflated_at = now
        self.conflations += 1
        controls = [item for item in self._items if item.channel is None]
        latest: dict[tuple[str, tuple[str, str] | None], _Item] = {}
        for item in self._items:
            if item.channel is not None:
                latest[(item.channel, item.series)] = item
        kept = sorted(latest.values(), key=lambda item: item.seq)
        # The gap spans to the newest kept frame: older frames of other series were dropped
        # anywhere below it. The kept frames inside the span still arrive after the gap.
        last_kept = {item.channel or "": item.seq for item in kept}
        gaps = [
            _Item(self._gap(channel, self._taken.get(channel, 0), seq))
            for channel, seq in last_kept.items()
        ]
        self._items = [*controls, *gaps, *kept]
        # Control and gap frames are few (rate limits bound them); the data frames decide.
        return len(kept) < self._capacity
