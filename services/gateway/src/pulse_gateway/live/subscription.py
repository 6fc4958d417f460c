"""A ``/ws`` socket's subscription to one channel: joining it, its history or resume, live.

Subscribing joins the channel's shared live feed first (frames are held back), then reads
what the client asked for from the stream (history, or everything after its last sequence),
sends that, and lets the held frames through from the next sequence on: no gap, no
duplicate, because both sides are the same stream's sequence. Metric and class channels
differ only in their history (points, downsampled; the class's latest events:
``class_history.py``) and in the options they take.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pulse_gateway.settings import WebSocketSettings

from .backpressure import held_too_many, let_go
from .channels import ChannelRefused, ChannelSpec
from .class_history import MAX_HISTORY_EVENTS, history_frames, latest_events
from .downsampling import downsample
from .fanout import Delivery
from .feeds import INBOX_FEED, LOG_FEED
from .frames import Gap, HistoryRequest, Subscribe, Subscribed
from .rate_cap import RateCap

if TYPE_CHECKING:
    from .session import SocketClient


class ChannelSubscription:
    """A client's subscription to one channel; the hub calls :meth:`deliver` in seq order."""

    __slots__ = ("_cap", "_held", "_live", "client", "last_seq", "max_rate", "spec")

    def __init__(self, client: SocketClient, spec: ChannelSpec, max_rate: float | None) -> None:
        self.client = client
        self.spec = spec
        self.max_rate = max_rate
        self.last_seq = 0
        self._live = False
        self._held: list[Delivery] = []
        self._cap = RateCap() if max_rate is not None else None

    def deliver(self, delivery: Delivery) -> None:
        if not self._live:
            self._held.append(delivery)
            if held_too_many(len(self._held), self.client.outbox):
                let_go(self.client)
            return
        if delivery.seq <= self.last_seq:
            return  # already sent from the stream read
        self.last_seq = delivery.seq
        if self._cap is None:
            self.client.send_data(delivery)
            return
        assert self.max_rate is not None
        self._cap.offer(delivery, self.max_rate, self.client.send_data)

    def go_live(self, after_seq: int) -> None:
        """From now on, frames after ``after_seq`` flow; the held ones first."""
        self.last_seq = max(self.last_seq, after_seq)
        self._live = True
        held, self._held = self._held, []
        for delivery in held:
            self.deliver(delivery)

    async def catch_up(self, request: Subscribe) -> None:
        """Answer ``subscribed``, send what the client asked for (its history, or what it
        missed after ``resume_from``), then let the live frames through."""
        if request.history is not None and self.spec.class_id is not None:
            await self._send_class_history(request.history)
        elif request.history is not None:
            await self._send_history(request.history)
        elif request.resume_from is not None:
            await self._resume(request.resume_from)
        else:
            after = self.client.hub.last_seq(self.spec.shared_as)
            self.client.send(Subscribed(channel=self.spec.name, seq=after, max_rate=self.max_rate))
            self.go_live(after)

    async def leave(self) -> None:
        if self._cap is not None:
            self._cap.cancel()
        await self.client.hub.leave(self.spec.shared_as, self)

    async def _send_history(self, request: HistoryRequest) -> None:
        client = self.client
        start = datetime.now(UTC) - timedelta(minutes=request.minutes)
        points: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        last = client.hub.last_seq(self.spec.shared_as)
        async for stored in client.reader.read(
            self.spec.feed,
            self.spec.subject,
            since=start,
            max_messages=client.settings.replay_max_messages,
        ):
            last = max(last, stored.seq)
            batch = stored.message
            points[(batch.source, batch.name)].extend(
                zip(batch.times_us, batch.values, strict=True)
            )
        history = downsample(points, start, request.max_points)
        client.send(
            Subscribed(channel=self.spec.name, seq=last, history=history, max_rate=self.max_rate)
        )
        self.go_live(last)

    async def _send_class_history(self, request: HistoryRequest) -> None:
        """``subscribed``, then the class's latest events in ``events`` frames, then live."""
        client = self.client
        name = self.spec.name
        # Before the read: what the channel delivered so far is stored, so the read covers
        # it; what it delivers during the read is held, and flows after what the read got.
        delivered = client.hub.last_seq(self.spec.shared_as)
        read, events = await latest_events(
            client.reader,
            self.spec,
            minutes=request.minutes,
            limit=request.max_points,
            max_messages=client.settings.replay_max_messages,
        )
        last = max(delivered, read)
        client.send(Subscribed(channel=name, seq=last))
        for frame in history_frames(name, events):
            client.send(frame)
        self.go_live(last)

    async def _resume(self, after: int) -> None:
        client = self.client
        name = self.spec.name
        recent = client.hub.recent(self.spec.shared_as, after)
        if recent is not None:
            # The channel delivered everything after ``after`` moments ago and still holds
            # it: no JetStream request at all (docs/adr/0015).
            client.send(Subscribed(channel=name, seq=after, max_rate=self.max_rate))
            self._replay(after, recent)
            return
        bounds = await client.reader.bounds(self.spec.feed.stream)
        client.send(Subscribed(channel=name, seq=after, max_rate=self.max_rate))
        if after + 1 < bounds.first_seq:
            client.send(
                Gap(
                    channel=name,
                    after_seq=after,
                    before_seq=bounds.first_seq,
                    reason="no longer stored in the stream",
                )
            )
            after = bounds.first_seq - 1
        # Older than what the channel holds: one read back into the channel serves every
        # client resuming from about here (a storm of clients away longer than the window).
        recent = await client.hub.backfilled(self.spec.shared_as, after)
        if recent is not None:
            self._replay(after, recent)
            return
        last = after
        async for stored in client.reader.read(
            self.spec.feed,
            self.spec.subject,
            after_seq=after,
            max_messages=client.settings.replay_max_messages,
        ):
            last = stored.seq
            if not self.spec.feed.is_live(stored.message):
                continue  # history (a bulk import): not among the frames a client missed
            delivery = self.spec.feed.delivery(name, stored.seq, stored.message, client.frames)
            client.send_data(delivery)
        self.go_live(last)

    def _replay(self, after: int, recent: list[Delivery]) -> None:
        """Kept deliveries after ``after``, then the ones held since the subscription joined
        its channel (the same stream sequences: no gap, no duplicate)."""
        last = after
        for delivery in recent:
            last = delivery.seq
            self.client.send_data(delivery)
        self.go_live(last)


def check_limits(
    request: Subscribe,
    spec: ChannelSpec,
    subscribed: Collection[str],
    settings: WebSocketSettings,
) -> None:
    """Raises :class:`ChannelRefused` for a subscribe beyond what one socket may ask."""
    if request.channel in subscribed:
        raise ChannelRefused("already_subscribed", f"already subscribed to {request.channel!r}")
    if len(subscribed) >= settings.max_subscriptions:
        raise ChannelRefused(
            "too_many_subscriptions",
            f"at most {settings.max_subscriptions} channels per socket",
        )
    history = request.history
    if history is not None and history.minutes > settings.history_max_minutes:
        raise ChannelRefused(
            "history_too_long",
            f"history is limited to {settings.history_max_minutes:g} minutes",
        )
    if spec.feed in _EVERY_ITEM_CHANNELS:
        _check_every_item_options(request, _EVERY_ITEM_CHANNELS[spec.feed])
    elif spec.class_id is not None:
        _check_class_options(request)
    elif history is not None and history.max_points > settings.history_max_points:
        raise ChannelRefused(
            "history_too_long",
            f"history is limited to {settings.history_max_points} points",
        )


def _check_class_options(request: Subscribe) -> None:
    """A class channel sends every event: no rate cap; its history counts events."""
    if request.max_rate is not None:
        raise ChannelRefused(
            "unsupported_option",
            "max_rate applies to metric channels only: a class channel sends every event",
        )
    if request.history is not None and request.history.max_points > MAX_HISTORY_EVENTS:
        raise ChannelRefused(
            "history_too_long",
            f"a class channel's history is limited to its latest {MAX_HISTORY_EVENTS} events",
        )


_EVERY_ITEM_CHANNELS = {
    INBOX_FEED: "the notifications channel sends every change (no max_rate, no history): list"
    " the inbox with GET /api/v1/notifications, or resume with resume_from",
    LOG_FEED: "the logs channel sends every record as it is stored (no max_rate, no history):"
    " search the past with GET /api/v1/admin/audit/access",
}
"""Channels that send every item and resume, whose past is a REST route's: ``notifications``
(a rate cap would merge inbox changes away) and ``logs`` (a live tail); why each refuses."""


def _check_every_item_options(request: Subscribe, why: str) -> None:
    if request.max_rate is not None or request.history is not None:
        raise ChannelRefused("unsupported_option", why)
