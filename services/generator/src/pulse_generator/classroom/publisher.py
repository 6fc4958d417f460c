"""Publishes the simulated class's events as a real producer on NATS would: JSON batches of at
most 100 on ``ingest.events``, each with a ``traceparent``, on a steady tick."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from prometheus_client import Counter
from pulse_contracts import CONTENT_TYPE_HEADER, JSON
from pulse_contracts.classroom import MAX_EVENTS_PER_BATCH
from pulse_runtime.logging import get_logger
from pulse_runtime.tracing import TRACEPARENT, new_traceparent

from .simulator import ClassSimulator

log = get_logger(__name__)

Publish = Callable[[bytes, dict[str, str]], Awaitable[None]]
TICK_S = 0.5


def batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [
        events[start : start + MAX_EVENTS_PER_BATCH]
        for start in range(0, len(events), MAX_EVENTS_PER_BATCH)
    ]


class ClassPublisher:
    def __init__(self, simulator: ClassSimulator, publish: Publish, published: Counter) -> None:
        self.simulator = simulator
        self._publish = publish
        self._published = published
        self._encoder = msgspec.json.Encoder()

    async def publish_due(self, elapsed_s: float) -> int:
        """Publish every event due by ``elapsed_s``; returns how many were sent."""
        sent = 0
        for batch in batches(self.simulator.advance(elapsed_s)):
            headers = {CONTENT_TYPE_HEADER: JSON, TRACEPARENT: new_traceparent()}
            try:
                await self._publish(self._encoder.encode(batch), headers)
            except Exception as exc:  # a NATS outage: the class goes on, as students would
                log.warning("class events not published", error=str(exc), events=len(batch))
                continue
            self._published.inc(len(batch))
            sent += len(batch)
        return sent

    async def run(self, stopping: asyncio.Event) -> None:
        started = time.monotonic()
        while not stopping.is_set():
            await self.publish_due(time.monotonic() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), TICK_S)
