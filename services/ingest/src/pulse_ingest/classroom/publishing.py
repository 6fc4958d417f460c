"""Validated events into the EVENTS stream: one message per class (and per ~512 KiB), stored
once however often a producer sends them."""

from __future__ import annotations

import asyncio
import hashlib

from faststream.nats import NatsBroker
from pulse_contracts import CONTENT_TYPE_HEADER, MSGPACK, Codec, subjects
from pulse_contracts.classroom import ClassEvents
from pulse_runtime.tracing import TRACEPARENT, child_traceparent

from pulse_ingest.storing import NotStored

from .class_settings import ClassSettingsCache
from .validation import without_code

MSG_ID_HEADER = "Nats-Msg-Id"
MAX_MESSAGE_BYTES = 512 * 1024
"""A stream message stays well inside NATS's default 1 MiB payload: 100 events with their code
(up to 64 Ki characters each) would not, so such a batch goes as several messages."""


def message_id(batch: ClassEvents) -> str:
    """Derived from the class and its events' ids, not the bytes: the same events sent again
    within the stream's duplicate window (a retry, the same batch over HTTP and NATS) are
    dropped by JetStream, whatever else differs."""
    digest = hashlib.blake2b(batch.class_id.encode(), digest_size=16)
    for event in batch.events:
        digest.update(event.event_id.bytes)
    return digest.hexdigest()


class EventsPublisher:
    def __init__(self, broker: NatsBroker, codec: Codec, *, publish_timeout_s: float) -> None:
        self._broker = broker
        self._codec = codec
        self._timeout_s = publish_timeout_s

    async def publish(
        self, batches: list[ClassEvents], settings: ClassSettingsCache, traceparent: str
    ) -> int:
        """Store every batch in EVENTS (without ``code`` for a class that does not collect
        it); returns how many events. Raises :class:`NotStored` after every publish has
        finished when any was not confirmed."""
        parts: list[tuple[ClassEvents, bytes]] = []
        for batch in batches:
            kept = batch if await settings.collects_code(batch.class_id) else without_code(batch)
            parts.extend(self._parts(kept))
        results = await asyncio.gather(
            *(self._publish(batch, payload, traceparent) for batch, payload in parts),
            return_exceptions=True,
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        for failure in failures:
            if not isinstance(failure, Exception):  # a cancellation: not ours to answer
                raise failure
        if failures:
            raise NotStored(
                f"not stored: JetStream did not confirm the events ({type(failures[0]).__name__},"
                f" {len(failures)} of {len(parts)} parts); send the same events again"
            ) from failures[0]
        return sum(len(batch.events) for batch in batches)

    def _parts(self, batch: ClassEvents) -> list[tuple[ClassEvents, bytes]]:
        payload = self._codec.pack(batch)
        if len(payload) <= MAX_MESSAGE_BYTES or len(batch.events) == 1:
            return [(batch, payload)]
        half = len(batch.events) // 2
        return [
            *self._parts(ClassEvents(class_id=batch.class_id, events=batch.events[:half])),
            *self._parts(ClassEvents(class_id=batch.class_id, events=batch.events[half:])),
        ]

    async def _publish(self, batch: ClassEvents, payload: bytes, traceparent: str) -> None:
        # nats-py's JetStream publish itself: FastStream's publish path (its middlewares and
        # serialisation, for bytes already encoded) cost more CPU per message than the rest of
        # ingest's work for a batch of events (bench/events.py).
        js = self._broker.config.connection_state.stream
        await js.publish(
            subjects.events_subject(batch.class_id),
            payload,
            headers={
                MSG_ID_HEADER: message_id(batch),
                TRACEPARENT: child_traceparent(traceparent),
                CONTENT_TYPE_HEADER: MSGPACK,
            },
            stream=subjects.EVENTS_STREAM,
            timeout=self._timeout_s,
        )
