"""Reading a stream back (METRICS, EVENTS): a channel's messages from a sequence or a time on.

Each read is its own short-lived, explicitly named pull consumer (memory storage, no acks)
that reads until the stream holds nothing more for the channel; the server removes it a few
seconds after the last pull (the gateway may not delete consumers: deploy/nats/nats.conf).
Live data comes separately (see ``fanout``); readers join the two by stream sequence.

A reconnect storm must not become a JetStream storm (docs/adr/0015): at most ``concurrency``
reads of a gateway hold a consumer at once (the others wait their turn, in order), and the
stream's bounds are asked once per ``bounds_ttl_s`` however many subscribes want them. One
reader serves every stream, so the bound on concurrent reads is the gateway's, not a stream's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import Generic, TypeVar

import msgspec
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from pulse_contracts import decode_untrusted
from pulse_runtime.logging import get_logger

from .feeds import Feed

log = get_logger(__name__)

_FETCH_BATCH = 500
_FETCH_TIMEOUT_S = 2.0
_IDLE_CONSUMER_S = 5.0


P = TypeVar("P")


class StoredMessage(Generic[P]):
    __slots__ = ("message", "seq", "subject")

    def __init__(self, seq: int, subject: str, message: P) -> None:
        self.seq = seq
        self.subject = subject
        self.message = message


class TooMuchToReplay(Exception):
    def __init__(self, pending: int) -> None:
        super().__init__(f"{pending} messages to replay")
        self.pending = pending


class StreamBounds(msgspec.Struct, frozen=True):
    first_seq: int
    last_seq: int


class ReadCounts:
    """Since start: reads that held a consumer, the most at once, and stream-info requests."""

    __slots__ = ("active", "bounds_requests", "peak", "reads", "waiting")

    def __init__(self) -> None:
        self.reads = 0
        self.active = 0
        self.peak = 0
        self.waiting = 0
        self.bounds_requests = 0


class StreamReader:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        concurrency: int = 8,
        bounds_ttl_s: float = 1.0,
    ) -> None:
        self._js = js
        self._turns = asyncio.Semaphore(concurrency)
        self._bounds_ttl_s = bounds_ttl_s
        self._bounds: dict[str, tuple[float, StreamBounds]] = {}  # stream -> (when, answer)
        self._asking: dict[str, asyncio.Future[StreamBounds]] = {}
        self.counts = ReadCounts()

    async def bounds(self, stream: str) -> StreamBounds:
        """The stream's first and last sequence, at most ``bounds_ttl_s`` old; callers that
        ask while a request is out share its answer (one STREAM.INFO, not one per caller)."""
        cached = self._bounds.get(stream)
        if cached is not None and time.monotonic() - cached[0] < self._bounds_ttl_s:
            return cached[1]
        asking = self._asking.get(stream)
        if asking is None:
            asking = self._asking[stream] = asyncio.ensure_future(self._ask_bounds(stream))
        return await asyncio.shield(asking)

    async def _ask_bounds(self, stream: str) -> StreamBounds:
        try:
            asked = time.monotonic()
            self.counts.bounds_requests += 1
            info = await self._js.stream_info(stream)
            bounds = StreamBounds(first_seq=info.state.first_seq, last_seq=info.state.last_seq)
            self._bounds[stream] = (asked, bounds)
            return bounds
        finally:
            del self._asking[stream]

    async def read(
        self,
        feed: Feed[P],
        subject: str,
        *,
        after_seq: int | None = None,
        since: datetime | None = None,
        max_messages: int,
        queued: bool = True,
    ) -> AsyncGenerator[StoredMessage[P], None]:
        """Every stored message on ``subject`` after ``after_seq`` (or from ``since``), in
        order, until none is left; raises TooMuchToReplay before reading more than
        ``max_messages``. A ``queued`` read waits for one of the gateway's ``concurrency``
        turns first (a live channel's repair does not: its clients all wait for it)."""
        if not queued:
            async for message in self._read(feed, subject, after_seq, since, max_messages):
                yield message
            return
        counts = self.counts
        counts.waiting += 1
        try:
            await self._turns.acquire()
        finally:
            counts.waiting -= 1
        counts.active += 1
        counts.peak = max(counts.peak, counts.active)
        try:
            async for message in self._read(feed, subject, after_seq, since, max_messages):
                yield message
        finally:
            counts.active -= 1
            self._turns.release()

    async def _read(
        self,
        feed: Feed[P],
        subject: str,
        after_seq: int | None,
        since: datetime | None,
        max_messages: int,
    ) -> AsyncIterator[StoredMessage[P]]:
        self.counts.reads += 1
        if after_seq is not None:
            start = {
                "deliver_policy": DeliverPolicy.BY_START_SEQUENCE,
                "opt_start_seq": after_seq + 1,
            }
        elif since is not None:
            start = {
                "deliver_policy": DeliverPolicy.BY_START_TIME,
                "opt_start_time": since.isoformat(),
            }
        else:
            start = {"deliver_policy": DeliverPolicy.ALL}
        name = f"gateway-replay-{uuid.uuid4().hex}"
        config = ConsumerConfig(
            name=name,
            filter_subject=subject,
            ack_policy=AckPolicy.NONE,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=_IDLE_CONSUMER_S,
            **start,  # type: ignore[arg-type]
        )
        info = await self._js.add_consumer(feed.stream, config)
        pending = info.num_pending or 0
        if pending > max_messages:
            raise TooMuchToReplay(pending)
        if pending == 0:
            return
        subscription = await self._js.pull_subscribe_bind(consumer=name, stream=feed.stream)
        try:
            async for message in self._drain(feed, subscription):
                yield message
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def _drain(
        self, feed: Feed[P], subscription: JetStreamContext.PullSubscription
    ) -> AsyncIterator[StoredMessage[P]]:
        while True:
            try:
                messages = await subscription.fetch(_FETCH_BATCH, timeout=_FETCH_TIMEOUT_S)
            except (NatsTimeoutError, TimeoutError):
                return  # nothing more arrived: what was pending has been read
            for msg in messages:
                meta = msg.metadata
                try:
                    message = decode_untrusted(feed.decoder, msg.data)
                except msgspec.DecodeError:
                    log.warning("undecodable stored message", seq=meta.sequence.stream)
                else:
                    yield StoredMessage(meta.sequence.stream, msg.subject, message)
                if meta.num_pending == 0:
                    return
