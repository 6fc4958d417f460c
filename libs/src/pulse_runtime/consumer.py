"""A durable JetStream pull consumer that hands batches to a handler, one batch at a time.

Used instead of FastStream's ``PullSub(batch=True)`` for the high-volume streams: FastStream
0.7.8 catches only ``nats.errors.TimeoutError`` around ``fetch``, while nats-py 2.15+ also raises
a plain ``asyncio.TimeoutError`` from an idle fetch, which kills and restarts its consume task
with a traceback (see docs/adr/0005). Owning the loop also makes "finish the batch in hand,
then stop" explicit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.js.api import ConsumerConfig
from nats.js.client import JetStreamContext
from nats.js.errors import APIError, ServiceUnavailableError

from .logging import get_logger

log = get_logger(__name__)

BatchHandler = Callable[[list[Msg]], Awaitable[None]]
FetchObserver = Callable[[Msg], None]
"""Told the last message of every batch fetched (its metadata: what is still pending, when it
was stored), before the batch is handled."""


class PullConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        subject: str,
        durable: str,
        config: ConsumerConfig,
        batch_size: int,
        batch_timeout_s: float,
        handler: BatchHandler,
        concurrency: int = 1,
        on_fetched: FetchObserver | None = None,
    ) -> None:
        """``concurrency`` batches are fetched and handled at once (each on its own binding
        to the durable consumer), so a write to the database overlaps the next fetch."""
        self._js = js
        self._stream = stream
        self._subject = subject
        self._durable = durable
        self._config = config
        self._batch_size = batch_size
        self._batch_timeout_s = batch_timeout_s
        self._handler = handler
        self._concurrency = concurrency
        self._on_fetched = on_fetched
        self._running = False
        self._tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list[JetStreamContext.PullSubscription] = []

    async def start(self) -> None:
        self._running = True
        for worker in range(self._concurrency):
            subscription = await self._js.pull_subscribe(
                self._subject, durable=self._durable, stream=self._stream, config=self._config
            )
            self._subscriptions.append(subscription)
            self._tasks.append(
                asyncio.create_task(
                    self._consume(subscription), name=f"pull:{self._durable}:{worker}"
                )
            )

    async def stop(self) -> None:
        """Take no new batch; the ones in hand are finished (and acknowledged) first."""
        self._running = False
        await asyncio.gather(*self._tasks)
        self._tasks.clear()
        for subscription in self._subscriptions:
            # An idle pull subscription would otherwise hold the connection's drain open.
            await subscription.unsubscribe()
        self._subscriptions.clear()

    async def _consume(self, subscription: JetStreamContext.PullSubscription) -> None:
        while self._running:
            try:
                messages = await subscription.fetch(self._batch_size, timeout=self._batch_timeout_s)
            except TimeoutError:  # nothing arrived in time (nats-py raises both kinds)
                continue
            except (ConnectionClosedError, ServiceUnavailableError, APIError) as exc:
                # Unacknowledged messages stay with the server and are redelivered.
                log.warning("fetch failed; retrying", consumer=self._durable, error=str(exc))
                await asyncio.sleep(0.5)
                continue
            if self._on_fetched is not None and messages:
                self._on_fetched(messages[-1])
            try:
                await self._handler(messages)
            except Exception:  # the handler's own failure must not end consumption
                log.exception("batch handler failed; batch left for redelivery")
