"""The slow-consumer policy: what a client that reads its frames too slowly gets, in one place.

It is the same for ``/ws`` and ``/ws/metrics`` (docs/websocket.md, "Backpressure"):

1. A caught-up socket gets each frame written at once (``connection.py``, ``direct.py``). One
   whose transport buffer is above 64 KiB, or that already has frames waiting, queues them
   in its **outbox** (:class:`Outbox`), which a writer task empties.
2. The outbox is bounded (``PULSE_WS_OUTBOX_FRAMES``; ``/ws/metrics``:
   ``PULSE_GATEWAY_CLIENT_QUEUE_SIZE``), so a slow reader costs memory only up to a limit.
   When it is full, each series keeps only its latest frame (**conflation**), after a
   ``gap`` frame per channel telling the client which sequences it may have missed
   (``/ws/metrics`` has no gap frame: its clients see the latest points only).
3. If it fills up again within ``PULSE_WS_SLOW_CONSUMER_GRACE_S``, or the conflated frames
   alone still fill it, the client is a **slow consumer**: closed with 4408
   (:func:`let_go`). It never slows the others: the fan-out only appends to outboxes.
4. While a ``/ws`` subscription catches up (its history or resume is read from the stream),
   its live frames are held back; holding more than the outbox would (:func:`held_too_many`)
   makes it a slow consumer too.
5. A client that reads nothing at all cannot receive even the close frame: its connection is
   cut after ``PULSE_WS_CLOSE_TIMEOUT_S`` (``LiveConnection.close`` in ``connection.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

from .frames import CLOSE_SLOW_CONSUMER, Gap

Payload = str | bytes | list[str]
"""What the writer sends: a text frame, a binary frame, or (``/ws/metrics``) the text frames
of one stream message's points, one after the other (the list is shared between sockets)."""
GapPayload = Callable[[str, int, int], Payload | None]
"""(channel, after_seq, before_seq) -> an encoded gap frame; None: the protocol has none."""

SLOW_CONSUMER_REASON = "slow consumer: frames were not read in time"
CONFLATED_REASON = "slow consumer: only the latest frame of each series was kept"


class Closable(Protocol):
    def close(self, code: int, reason: str) -> None: ...


def let_go(client: Closable) -> None:
    """The one decision: a client that could not keep up is closed with 4408."""
    client.close(CLOSE_SLOW_CONSUMER, SLOW_CONSUMER_REASON)


def held_too_many(held: int, outbox: Outbox) -> bool:
    """Whether a subscription still catching up holds more live frames than its socket's
    outbox may: it would never catch up."""
    return held > outbox.capacity


def gap_frame(channel: str, after_seq: int, before_seq: int) -> Gap:
    """What a ``/ws`` client is told when conflation dropped frames of ``channel``."""
    return Gap(channel=channel, after_seq=after_seq, before_seq=before_seq, reason=CONFLATED_REASON)


def no_gap_frame(channel: str, after_seq: int, before_seq: int) -> None:
    """``/ws/metrics`` has no gap frame in its protocol."""


class _Item(NamedTuple):
    payload: Payload
    channel: str | None = None  # None: a control frame, never dropped
    series: tuple[str, str] | None = None
    seq: int = 0


class Outbox:
    """One client's outgoing frames that could not be written at once (see the module)."""

    __slots__ = (
        "_conflated_at", "_gap", "_grace_s", "_items", "_ready", "_taken", "capacity",
        "conflations",
    )  # fmt: skip

    def __init__(self, capacity: int, grace_s: float, gap: GapPayload) -> None:
        self.capacity = capacity
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
        """Queue a data frame; False when the client is hopelessly behind (:func:`let_go`)."""
        if len(self._items) >= self.capacity and not self._conflate():
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
            _Item(payload)
            for channel, seq in last_kept.items()
            if (payload := self._gap(channel, self._taken.get(channel, 0), seq)) is not None
        ]
        self._items = [*controls, *gaps, *kept]
        # Control and gap frames are few (rate limits bound them); the data frames decide.
        return len(kept) < self.capacity
