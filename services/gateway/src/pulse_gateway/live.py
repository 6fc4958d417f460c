"""Live fan-out: one NATS subscription per channel per process, however many clients watch it.

Each message is decoded once and each point encoded once; the same frame goes to every
client's bounded queue. A client that falls behind loses its oldest frames, never slows others.
"""

from __future__ import annotations

import asyncio

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pulse_contracts import Codec, from_epoch_us, subjects
from pulse_runtime.logging import get_logger

from .schemas import MetricPointOut

log = get_logger(__name__)


class ClientFeed:
    """One client's view of a channel: a bounded queue of ready-to-send frames."""

    def __init__(self, channel: str, capacity: int) -> None:
        self.channel = channel
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=capacity)
        self.dropped = 0

    def offer(self, frame: str) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(frame)


class LiveHub:
    def __init__(self, nats: Client, codec: Codec, *, client_queue_size: int) -> None:
        self._nats = nats
        self._codec = codec
        self._queue_size = client_queue_size
        self._feeds: dict[str, set[ClientFeed]] = {}
        self._subscriptions: dict[str, Subscription] = {}
        self._lock = asyncio.Lock()
        self._dropped = 0  # frames dropped by clients that have left

    def channel_count(self) -> int:
        """NATS subscriptions held: one per watched channel, however many clients watch it."""
        return len(self._subscriptions)

    def client_count(self) -> int:
        return sum(len(watchers) for watchers in self._feeds.values())

    def dropped_frames(self) -> int:
        return self._dropped + sum(f.dropped for w in self._feeds.values() for f in w)

    async def join(self, name: str, source: str | None = None) -> ClientFeed:
        channel = subjects.metrics_live_subject(name, source)
        feed = ClientFeed(channel, self._queue_size)
        async with self._lock:
            if channel not in self._subscriptions:
                self._feeds[channel] = set()

                async def deliver(msg: Msg, channel: str = channel) -> None:
                    await self._fan_out(channel, msg)

                self._subscriptions[channel] = await self._nats.subscribe(channel, cb=deliver)
                log.info("live channel opened", channel=channel)
            self._feeds[channel].add(feed)
        return feed

    async def leave(self, feed: ClientFeed) -> None:
        async with self._lock:
            watchers = self._feeds.get(feed.channel)
            if watchers is None:
                return
            watchers.discard(feed)
            self._dropped += feed.dropped
            if not watchers:
                del self._feeds[feed.channel]
                subscription = self._subscriptions.pop(feed.channel)
                await subscription.unsubscribe()
                log.info("live channel closed", channel=feed.channel)

    async def close(self) -> None:
        async with self._lock:
            for subscription in self._subscriptions.values():
                await subscription.unsubscribe()
            self._subscriptions.clear()
            self._feeds.clear()

    async def _fan_out(self, channel: str, msg: Msg) -> None:
        watchers = self._feeds.get(channel)
        if not watchers:
            return
        try:
            batch = self._codec.series_batch.decode(msg.data)
        except msgspec.DecodeError:
            log.warning("undecodable live message", subject=msg.subject)
            return
        encode = self._codec.json_encoder.encode
        frames = [
            encode(
                MetricPointOut(
                    timestamp=from_epoch_us(time_us),
                    value=value,
                    type=batch.name,
                    source=batch.source,
                )
            ).decode()
            for time_us, value in zip(batch.times_us, batch.values, strict=True)
        ]
        for feed in watchers:
            for frame in frames:
                feed.offer(frame)
