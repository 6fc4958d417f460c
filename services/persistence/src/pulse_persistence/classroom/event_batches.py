"""The EVENTS stream's part of :class:`~pulse_persistence.stream_batches.StreamBatches`: a
message is a :class:`ClassEvents` (with the trace id of its ``traceparent`` header), written by
:class:`EventsWriter` into the classroom tables."""

from __future__ import annotations

import time

import msgspec
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry
from pulse_contracts import decode_untrusted
from pulse_contracts.classroom import ClassEvents
from pulse_runtime.logging import get_logger
from pulse_runtime.telemetry import counter, histogram
from pulse_runtime.tracing import TRACEPARENT, trace_id_of

from .writer import EventsWriter, TracedEvents

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

    def decode(self, msg: Msg) -> TracedEvents:
        trace_id = trace_id_of((msg.headers or {}).get(TRACEPARENT))
        return TracedEvents(decode_untrusted(self._decoder, msg.data), trace_id)

    def refusal(self, batch: TracedEvents) -> str | None:
        events = batch.events
        if any(event.class_id != events.class_id for event in events.events):
            return "class events naming another class"
        return None

    async def write(self, batches: list[TracedEvents]) -> None:
        started = time.perf_counter()
        new = await self._writer.write(batches)
        self._write_seconds.observe(time.perf_counter() - started)
        received = sum(len(batch.events.events) for batch in batches)
        self._received.inc(received)
        self._new.inc(new)
        log.debug("events persisted", messages=len(batches), events=received, new=new)
