"""The EVENTS stream's part of :class:`~pulse_persistence.stream_batches.StreamBatches`: a
message is a :class:`ClassEvents`, written by :class:`EventsWriter` into the classroom tables."""

from __future__ import annotations

import time

import msgspec
from prometheus_client import CollectorRegistry
from pulse_contracts import decode_untrusted
from pulse_contracts.classroom import ClassEvents
from pulse_runtime.logging import get_logger
from pulse_runtime.telemetry import counter, histogram

from .writer import EventsWriter

log = get_logger(__name__)


class ClassEventBatches:
    what = "class events"

    def __init__(self, writer: EventsWriter, registry: CollectorRegistry) -> None:
        self._writer = writer
        self._decoder = msgspec.msgpack.Decoder(ClassEvents)
        self._received = counter(
            registry, "pulse_persistence_events_received_total", "Notebook events consumed"
        )
        self._new = counter(
            registry,
            "pulse_persistence_events_stored_total",
            "Notebook events stored for the first time (repeats are not counted)",
        )
        self._write_seconds = histogram(
            registry, "pulse_persistence_events_write_seconds", "Write time per batch of events"
        )
        self.failures = counter(
            registry,
            "pulse_persistence_events_write_failures_total",
            "Batches of events nacked for retry",
        )

    def decode(self, data: bytes) -> ClassEvents:
        return decode_untrusted(self._decoder, data)

    def refusal(self, batch: ClassEvents) -> str | None:
        if any(event.class_id != batch.class_id for event in batch.events):
            return "class events naming another class"
        return None

    async def write(self, batches: list[ClassEvents]) -> None:
        started = time.perf_counter()
        new = await self._writer.write(batches)
        self._write_seconds.observe(time.perf_counter() - started)
        received = sum(len(batch.events) for batch in batches)
        self._received.inc(received)
        self._new.inc(new)
        log.debug("events persisted", messages=len(batches), events=received, new=new)
