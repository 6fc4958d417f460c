"""Live fan-out: one NATS subscription per channel per gateway process, shared by its clients.

Each stream behind channels (METRICS, EVENTS: ``feeds.py``) republishes every stored message
to ``live.<subject>`` with its stream sequence and the previous sequence of the same subject
in headers (JetStream RePublish). A channel subscribes there once, decodes each message once,
encodes its frame once per wire format, and hands the same frame to every listener. When the
per-subject sequence chain shows a message was missed (core NATS delivers at most once: a
reconnect, say), the channel reads the missing ones back from the stream before going on, so
listeners see every sequence.

Each channel also keeps its recent deliveries (``recent``), so that a client resuming from a
sequence it delivered moments ago is served from memory; a channel whose last listener left
stays open for that window too, since after a reconnect storm its clients come straight back.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pulse_contracts import decode_untrusted, subjects
from pulse_runtime.logging import get_logger

from .channels import ChannelSpec
from .feeds import Delivery
from .frames import FrameCodec
from .recent import RecentDeliveries
from .replay import StreamReader, TooMuchToReplay

__all__ = ["ChannelHub", "Delivery", "Listener", "RecentPolicy"]

log = get_logger(__name__)

_SEQUENCE = "Nats-Sequence"
_PREVIOUS_OF_SUBJECT = "Nats-Last-Sequence"
_SUBJECT = "Nats-Subject"
_MAX_REPAIR_MESSAGES = 10_000
_OPEN_BOUNDS_TIMEOUT_S = 1.0
"""How long a channel opening waits for the stream's last sequence before going without."""


class Listener(Protocol):
    def deliver(self, delivery: Delivery) -> None:
        """Called for every message in sequence order; must not block."""


class RecentPolicy(msgspec.Struct, frozen=True):
    """What each live channel keeps for resumes: at most ``frames`` deliveries, none older
    than ``window_s``; a channel without listeners stays open that long (0 frames: neither)."""

    frames: int = 0
    window_s: float = 0.0


class _LiveChannel:
    def __init__(
        self,
        spec: ChannelSpec,
        reader: StreamReader,
        frames: FrameCodec,
        policy: RecentPolicy,
    ) -> None:
        self.spec = spec
        self.listeners: set[Listener] = set()
        self.last_seq = 0
        self.recent = RecentDeliveries(policy.frames, policy.window_s)
        self._backfilling = asyncio.Lock()
        self._too_far = -1  # a backfill after this sequence or before would not fit
        self.closing: asyncio.TimerHandle | None = None  # while kept open without listeners
        self._reader = reader
        self._frames = frames
        self._inbox: asyncio.Queue[Msg] = asyncio.Queue()
        self._previous: dict[str, int] = {}  # subject -> last sequence seen on it
        # The stream's last sequence a moment before the channel subscribed: what the first
        # messages' chains are checked against (0 while unknown: nothing is read back then).
        self._opened_after = 0
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def backfill(self, after_seq: int, max_messages: int) -> None:
        """Read the channel back from the stream, after ``after_seq`` up to what its kept
        frames hold, and keep it too: the resumes of a storm of clients that were away
        longer than the window then share one stream read per channel instead of one each.
        One backfill at a time per channel; a resume that finds the work done reads nothing."""
        async with self._backfilling:
            floor = self.recent.floor
            if floor is None or after_seq >= floor:
                return
            if after_seq <= self._too_far:  # known already: it would not fit
                raise TooMuchToReplay(max_messages + 1)
            older: list[Delivery] = []
            reading = self._reader.read(
                self.spec.feed, self.spec.subject, after_seq=after_seq, max_messages=max_messages
            )
            async with contextlib.aclosing(reading):
                try:
                    async for stored in reading:
                        floor = self.recent.floor
                        if floor is None or stored.seq > floor:
                            break  # the rest is kept already
                        if self.spec.feed.is_live(stored.message):
                            older.append(self._delivery(stored.seq, stored.message))
                except TooMuchToReplay:
                    self._too_far = max(self._too_far, after_seq)  # only grows from there
                    raise
            self.recent.backfilled(older, after_seq)

    async def open(self, nats: Client) -> None:
        async def receive(msg: Msg) -> None:
            self._inbox.put_nowait(msg)

        # Where the stream was before subscribing (the reader's shared, briefly cached answer:
        # older is only more to check). nats-server 2.15 answers the PONG of a SUB a moment
        # (under a millisecond) before its JetStream republish sees the new subscription: a
        # message stored in that moment is republished to nobody. Its successor on the subject
        # then names it as its previous one, after this bound, and it is read back like any
        # other hole, even as the channel's first message.
        # JetStream away or slow (a leader election): as before, no check at first, and the
        # subscribe is not held up for long.
        with contextlib.suppress(Exception):
            bounds = await asyncio.wait_for(
                self._reader.bounds(self.spec.feed.stream), _OPEN_BOUNDS_TIMEOUT_S
            )
            self._opened_after = bounds.last_seq
        self._subscription = await nats.subscribe(
            subjects.live_subject(self.spec.subject), cb=receive
        )
        # The server has the subscription before the channel counts as open.
        await nats.flush()
        self._task = asyncio.create_task(self._process(), name=f"live {self.spec.name}")

    async def close(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _process(self) -> None:
        while True:
            msg = await self._inbox.get()
            headers = msg.headers or {}
            try:
                seq = int(headers[_SEQUENCE])
                subject = headers[_SUBJECT]
                previous = int(headers.get(_PREVIOUS_OF_SUBJECT, "0"))
                message = decode_untrusted(self.spec.feed.decoder, msg.data)
            except (KeyError, ValueError, msgspec.DecodeError):
                log.warning("unusable live message", subject=msg.subject)
                continue
            if seq <= self.last_seq:
                continue  # already delivered by a repair
            # A hole: the subject's previous message came after the last one seen on it (or,
            # for a subject not seen yet, after the last one the channel delivered, or before
            # anything was, after the stream's last one when the channel opened).
            checked = max(self.last_seq, self._opened_after)
            seen = self._previous.get(subject, checked)
            if checked and previous > seen:
                await self._repair(before=seq)
            self._deliver(seq, subject, message)

    async def _repair(self, *, before: int) -> None:
        """Read back everything on the channel since the last delivered sequence (not only
        the subject that showed the hole: its neighbours missed the same stretch)."""
        after = max(self.last_seq, self._opened_after)
        log.info("live messages missed; reading them back", channel=self.spec.name, after_seq=after)
        try:
            async for stored in self._reader.read(
                self.spec.feed,
                self.spec.subject,
                after_seq=after,
                max_messages=_MAX_REPAIR_MESSAGES,
                queued=False,
            ):
                if stored.seq >= before:
                    break
                self._deliver(stored.seq, stored.subject, stored.message)
        except TooMuchToReplay as exc:
            log.warning("too much missed to repair", channel=self.spec.name, pending=exc.pending)
            self.recent.broken(before)
        except Exception as exc:  # the live flow goes on; its clients see the jump
            log.warning("repair failed", channel=self.spec.name, error=str(exc))
            self.recent.broken(before)

    def _delivery(self, seq: int, message: object) -> Delivery:
        return self.spec.feed.delivery(self.spec.name, seq, message, self._frames)

    def _deliver(self, seq: int, subject: str, message: object) -> None:
        self._previous[subject] = seq
        self.last_seq = max(self.last_seq, seq)
        if not self.spec.feed.is_live(message):
            return  # seen (no hole), but history: nobody gets it live
        delivery = self._delivery(seq, message)
        self.recent.add(delivery)
        for listener in list(self.listeners):
            listener.deliver(delivery)


class ChannelHub:
    def __init__(
        self,
        nats: Client,
        reader: StreamReader,
        frames: FrameCodec,
        recent: RecentPolicy | None = None,
    ) -> None:
        self._nats = nats
        self._reader = reader
        self._frames = frames
        self._recent = recent or RecentPolicy()
        self._channels: dict[str, _LiveChannel] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self.resumes_from_memory = 0

    def channel_count(self) -> int:
        """Channels watched by at least one client: one NATS subscription each, however many
        clients watch it."""
        return sum(1 for channel in self._channels.values() if channel.listeners)

    def kept_channel_count(self) -> int:
        """Channels no client watches, kept open (a subscription each) for resumes."""
        return sum(1 for channel in self._channels.values() if not channel.listeners)

    def recent(self, channel: str, after_seq: int) -> list[Delivery] | None:
        """The channel's deliveries after ``after_seq`` from memory, or None when they are
        not all held there (see :class:`RecentDeliveries`)."""
        live = self._channels.get(channel)
        if live is None:
            return None
        recent = live.recent.after(after_seq)
        if recent is not None:
            self.resumes_from_memory += 1
        return recent

    def listener_count(self) -> int:
        # A copy first: metrics are collected from the health listener's thread (list() of a
        # dict's values is one step under the GIL; iterating the dict itself is not).
        return sum(len(channel.listeners) for channel in list(self._channels.values()))

    def last_seq(self, channel: str) -> int:
        live = self._channels.get(channel)
        return live.last_seq if live is not None else 0

    async def backfilled(self, channel: str, after_seq: int) -> list[Delivery] | None:
        """The channel's deliveries after ``after_seq``, read back from the stream into its
        kept frames first when they begin later; None when they do not fit there (more
        than ``PULSE_WS_RESUME_FRAMES`` to keep): the caller reads the stream on its own."""
        live = self._channels.get(channel)
        if live is None or live.recent.floor is None or not self._recent.frames:
            return None
        try:
            await live.backfill(after_seq, max_messages=self._recent.frames)
        except TooMuchToReplay:
            return None
        return self.recent(channel, after_seq)

    async def join(self, spec: ChannelSpec, listener: Listener) -> None:
        async with self._lock:
            channel = self._channels.get(spec.shared_as)
            if channel is None:
                channel = _LiveChannel(spec, self._reader, self._frames, self._recent)
                await channel.open(self._nats)
                self._channels[spec.shared_as] = channel
                log.info("live channel opened", channel=spec.name)
            if channel.closing is not None:
                channel.closing.cancel()
                channel.closing = None
            channel.listeners.add(listener)

    async def leave(self, name: str, listener: Listener) -> None:
        """``name``: the channel's :attr:`~.channels.ChannelSpec.shared_as`, as for every
        method here that takes a channel's name."""
        async with self._lock:
            channel = self._channels.get(name)
            if channel is None:
                return
            channel.listeners.discard(listener)
            if channel.listeners:
                return
            if self._recent.frames and self._recent.window_s > 0:
                # Its clients may be back in a moment (a reconnect storm): keep what it holds.
                channel.closing = asyncio.get_running_loop().call_later(
                    self._recent.window_s, self._close_idle, channel
                )
                return
            await self._close(channel)

    def _close_idle(self, channel: _LiveChannel) -> None:
        task = asyncio.create_task(self._close_if_idle(channel))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close_if_idle(self, channel: _LiveChannel) -> None:
        async with self._lock:
            if channel.listeners or self._channels.get(channel.spec.shared_as) is not channel:
                return
            await self._close(channel)

    async def _close(self, channel: _LiveChannel) -> None:
        del self._channels[channel.spec.shared_as]
        await channel.close()
        log.info("live channel closed", channel=channel.spec.name)

    async def close(self) -> None:
        async with self._lock:
            for channel in self._channels.values():
                if channel.closing is not None:
                    channel.closing.cancel()
                await channel.close()
            self._channels.clear()
