"""The EVENTS stream into the classroom tables: a batch of stream messages is written in one
transaction and acked only after the commit, as METRICS is (docs/adr/0005)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import asyncpg
import msgspec
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry
from pulse_contracts import decode_untrusted
from pulse_contracts.classroom import ClassEvents
from pulse_runtime.database import DATABASE_AWAY
from pulse_runtime.logging import get_logger
from pulse_runtime.telemetry import counter, histogram
from pulse_runtime.tracing import logged_with_trace_of

from .writer import EventsWriter

log = get_logger(__name__)

SetAside = Callable[[Msg, str], Awaitable[None]]


class EventsConsumer:
    """:meth:`persist` is the pull consumer's batch handler."""

    def __init__(
        self,
        writer: EventsWriter,
        *,
        set_aside: SetAside,
        registry: CollectorRegistry,
        retry_delay_s: float,
        stopping: asyncio.Event,
    ) -> None:
        self._writer = writer
        self._set_aside = set_aside
        self._retry_delay_s = retry_delay_s
        self._stopping = stopping
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
        self._failures = counter(
            registry,
            "pulse_persistence_events_write_failures_total",
            "Batches of events nacked for retry",
        )

    async def persist(self, messages: list[Msg]) -> None:
        """Store a batch and ack it after the commit.

        The database being away means a delayed redelivery of the whole batch. A batch the
        database refuses is written message by message, and only the refused ones are set
        aside to DEADLETTER with the reason.
        """
        decoded: list[tuple[Msg, ClassEvents]] = []
        for msg in messages:
            try:
                batch = decode_untrusted(self._decoder, msg.data)
            except msgspec.DecodeError as exc:
                await self._set_aside(msg, f"undecodable class events: {exc}")
                continue
            if any(event.class_id != batch.class_id for event in batch.events):
                await self._set_aside(msg, "class events naming another class")
                continue
            decoded.append((msg, batch))
        if not decoded:
            return
        try:
            await self._write_and_ack(decoded)
        except (*DATABASE_AWAY, asyncpg.DeadlockDetectedError) as exc:
            self._failures.inc()
            log.warning("events not written; they will be redelivered", error=str(exc))
            for msg, _ in decoded:
                await msg.nak(delay=self._retry_delay_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._retry_delay_s)
        except asyncpg.PostgresError as exc:
            log.warning("database refused a batch of events; isolating the cause", error=str(exc))
            for one in decoded:
                with logged_with_trace_of(one[0].headers):
                    try:
                        await self._write_and_ack([one])
                    except asyncpg.PostgresError as refused:
                        await self._set_aside(one[0], f"refused by the database: {refused}")

    async def _write_and_ack(self, decoded: list[tuple[Msg, ClassEvents]]) -> None:
        started = time.perf_counter()
        new = await self._writer.write([batch for _, batch in decoded])
        elapsed = time.perf_counter() - started
        for msg, _ in decoded:
            await msg.ack()
        received = sum(len(batch.events) for _, batch in decoded)
        self._received.inc(received)
        self._new.inc(new)
        self._write_seconds.observe(elapsed)
        log.debug("events persisted", messages=len(decoded), events=received, new=new)
