"""The ingest service: producer messages validated into METRICS (points) and EVENTS (notebook
events), or refused into DEADLETTER."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

import structlog
from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext
from pulse_contracts import (
    CONTENT_TYPE_HEADER,
    MSGPACK,
    DeadLetter,
    IngestAck,
    SeriesBatch,
    subjects,
)
from pulse_contracts.classroom import EventsAck
from pulse_runtime.auth_client import AuthClient
from pulse_runtime.http_server import HttpServer
from pulse_runtime.logging import get_logger
from pulse_runtime.messaging import RawMessage, skip_decoding
from pulse_runtime.service import Lifecycle
from pulse_runtime.streams import pulse_streams
from pulse_runtime.telemetry import counter
from pulse_runtime.tracing import TRACEPARENT, child_traceparent, trace_id_of, traceparent_from
from pulse_runtime.web import RequestLatency
from pulse_runtime.worker import Worker

from .classroom.class_settings import ClassSettingsCache
from .classroom.publishing import EventsPublisher
from .classroom.validation import EventsValidator, InvalidEvents
from .documents import asyncapi_document
from .http import ApiKeyCache, create_http_app, served
from .imports.importer import ImportCounters, ImportLimits, MetricsImport
from .settings import Settings
from .storing import NotStored
from .validation import InvalidMetrics, MetricsValidator

log = get_logger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"


class IngestService(Worker):
    """The NATS side is a :class:`Worker` (its management listener on ``metrics_host`` /
    ``metrics_port``); the HTTP edge for producers starts once NATS is there."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            "ingest",
            settings.common,
            settings.ingest,
            streams=pulse_streams(settings.common),
            audit=settings.audit,
        )
        self.settings = settings
        self.validator = MetricsValidator(
            self.codec,
            max_future_skew_s=settings.ingest.max_future_skew_s,
            max_points=settings.ingest.max_points_per_message,
        )
        self.events_validator = EventsValidator()
        self.class_settings: ClassSettingsCache | None = None  # once NATS is connected
        self.events = EventsPublisher(
            self.broker, self.codec, publish_timeout_s=settings.ingest.publish_timeout_s
        )
        self.http: HttpServer | None = None
        self.latency = RequestLatency(self.registry, "ingest")
        self._started = False
        self._accepted_points = counter(
            self.registry, "pulse_ingest_points_accepted_total", "Points stored in METRICS"
        )
        self._accepted_events = counter(
            self.registry, "pulse_ingest_events_accepted_total", "Notebook events stored in EVENTS"
        )
        self._refused = counter(
            self.registry, "pulse_ingest_messages_deadlettered_total", "Messages refused"
        )
        self._not_stored = counter(
            self.registry,
            "pulse_ingest_messages_not_stored_total",
            "Valid messages JetStream did not confirm storing (the producer is told to retry)",
        )
        self.imports = MetricsImport(
            # Ingest's validator, with a chunk as its largest batch.
            validator=MetricsValidator(
                self.codec,
                max_future_skew_s=settings.ingest.max_future_skew_s,
                max_points=settings.ingest.import_chunk_rows,
            ),
            publish=self._publish,
            tasks=self.tasks,
            limits=ImportLimits(
                max_bytes=settings.ingest.import_max_bytes,
                max_age_days=settings.ingest.import_max_age_days,
                chunk_rows=settings.ingest.import_chunk_rows,
            ),
            counters=ImportCounters(
                counter(
                    self.registry,
                    "pulse_ingest_imports_total",
                    "Bulk imports, by outcome (stored, refused, not_stored)",
                    ("outcome",),
                ),
                counter(
                    self.registry,
                    "pulse_ingest_import_rows_total",
                    "Rows of bulk imports, by outcome (stored; refused and not_stored: the rows"
                    " of the chunk that stopped an import)",
                    ("outcome",),
                ),
            ),
        )
        self.broker.include_router(self._router())

    def _router(self) -> NatsRouter:
        router = NatsRouter()

        @router.subscriber(
            subjects.INGEST_METRICS,
            queue=subjects.INGEST_QUEUE,
            decoder=skip_decoding,
            no_reply=True,
            # Several producer messages at once: a JetStream acknowledgement is a round trip,
            # and one message at a time would leave the CPU idle while waiting for it.
            max_workers=self.settings.ingest.workers,
            title="ingest.metrics",
            description="A metric point or an array of points, JSON or msgpack by Content-Type.",
        )
        async def accept_metrics(message: RawMessage) -> None:
            await self.accept_metrics(message.raw_message)

        @router.subscriber(
            subjects.INGEST_EVENTS,
            queue=subjects.INGEST_QUEUE,
            decoder=skip_decoding,
            no_reply=True,
            max_workers=self.settings.ingest.workers,
            title="ingest.events",
            description="A notebook event or an array of 1-100 events, each naming its"
            " classId, JSON or msgpack by Content-Type.",
        )
        async def accept_events(message: RawMessage) -> None:
            await self.accept_events(message.raw_message)

        return router

    async def accept_metrics(self, msg: Msg) -> None:
        """The NATS path of points: a refusal is dead-lettered; a request gets an
        :class:`IngestAck`."""
        await self._accept(msg, self.ingest_metrics, IngestAck)

    async def accept_events(self, msg: Msg) -> None:
        """The NATS path of notebook events (each names its class): as for points, with an
        :class:`EventsAck`."""

        def ingest(data: bytes, content_type: str | None, traceparent: str) -> Awaitable[int]:
            return self.ingest_events(data, content_type, traceparent, None)

        await self._accept(msg, ingest, EventsAck)

    async def _accept(
        self,
        msg: Msg,
        ingest: Callable[[bytes, str | None, str], Awaitable[int]],
        ack: type[IngestAck] | type[EventsAck],
    ) -> None:
        """A refusal is dead-lettered with its reason; a request gets ``ack``.

        A valid message JetStream did not store is neither acknowledged nor dead-lettered (the
        data is fine, the store was away): a request is answered ``retryable``, to send again.
        """
        headers = msg.headers or {}
        traceparent = traceparent_from(headers)
        structlog.contextvars.bind_contextvars(trace_id=trace_id_of(traceparent))
        try:
            try:
                accepted = await ingest(msg.data, headers.get(CONTENT_TYPE_HEADER), traceparent)
            except (InvalidMetrics, InvalidEvents) as refused:
                await self._deadletter(msg, headers, str(refused), traceparent)
                await self._reply(msg, ack(error=str(refused)))
                return
            except NotStored as failed:
                cause = failed.__cause__
                log.error(
                    "message not stored",
                    origin=msg.subject,
                    error=f"{type(cause).__name__}: {cause}",
                    producer_told=bool(msg.reply),  # a plain publish has nobody to tell
                    trace_id=trace_id_of(traceparent),
                )
                await self._reply(msg, ack(error=str(failed), retryable=True))
                return
            await self._reply(msg, ack(accepted=accepted))
        finally:
            structlog.contextvars.unbind_contextvars("trace_id")

    async def ingest_events(
        self, data: bytes, content_type: str | None, traceparent: str, class_id: str | None
    ) -> int:
        """Validate and store notebook events in EVENTS, whichever way they came; returns how
        many. ``class_id`` is the API key's class (HTTP), None on NATS (each event names its
        own). Raises :class:`InvalidEvents`, or :class:`NotStored` when JetStream did not
        confirm them."""
        batches = self.events_validator.validate(data, content_type, class_id=class_id)
        accepted = await self.events.publish(batches, self._class_settings(), traceparent)
        self._accepted_events.inc(accepted)
        return accepted

    async def ingest_metrics(self, data: bytes, content_type: str | None, traceparent: str) -> int:
        """Validate and store in METRICS, whichever way the points came; returns how many.

        Raises :class:`InvalidMetrics` with the reason; returns only once JetStream stored them,
        else raises :class:`NotStored` (after every publish has finished, stored or not).
        """
        batches = self.validator.validate(data, content_type, datetime.now(UTC))
        results = await asyncio.gather(
            *(self._publish(batch, None, traceparent) for batch in batches),
            return_exceptions=True,
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        for failure in failures:
            if not isinstance(failure, Exception):  # a cancellation: not ours to answer
                raise failure
        if failures:
            self._not_stored.inc()
            raise NotStored(
                f"not stored: JetStream did not confirm the points ({type(failures[0]).__name__},"
                f" {len(failures)} of {len(batches)} parts); send the same message again"
            ) from failures[0]
        accepted = sum(len(batch.values) for batch in batches)
        self._accepted_points.inc(accepted)
        return accepted

    async def _publish(self, batch: SeriesBatch, msg_id: str | None, traceparent: str) -> None:
        """``batch`` into METRICS; ``msg_id`` is its ``Nats-Msg-Id`` (by default the digest of
        the payload: the same points republished, a producer's retry, are stored once)."""
        payload = self.codec.pack(batch)
        # nats-py's JetStream publish itself, as for events: FastStream's publish path (its
        # middlewares, for bytes already encoded) was 6 % of ingest's CPU under load.
        await self.jetstream().publish(
            subjects.metrics_subject(batch.source, batch.name),
            payload,
            headers={
                MSG_ID_HEADER: msg_id or hashlib.blake2b(payload, digest_size=16).hexdigest(),
                TRACEPARENT: child_traceparent(traceparent),
                CONTENT_TYPE_HEADER: MSGPACK,
            },
            stream=subjects.METRICS_STREAM,
            timeout=self.settings.ingest.publish_timeout_s,
        )

    def jetstream(self) -> JetStreamContext:
        stream: JetStreamContext = self.broker.config.connection_state.stream
        return stream

    async def _deadletter(
        self, msg: Msg, headers: Mapping[str, str], reason: str, traceparent: str
    ) -> None:
        self._refused.inc()
        log.warning("message refused", origin=msg.subject, reason=reason)
        letter = DeadLetter(
            origin=msg.subject,
            reason=reason,
            data=msg.data,
            headers=dict(headers),
            received_at=datetime.now(UTC),
            trace_id=trace_id_of(traceparent),
        )
        await self.broker.publish(
            self.codec.pack(letter),
            subjects.deadletter_subject(msg.subject),
            headers={CONTENT_TYPE_HEADER: MSGPACK, TRACEPARENT: child_traceparent(traceparent)},
            stream=subjects.DEADLETTER_STREAM,
            timeout=self.settings.ingest.publish_timeout_s,
        )

    async def _reply(self, msg: Msg, reply: IngestAck | EventsAck) -> None:
        if msg.reply:
            await msg.respond(self.codec.json_encoder.encode(reply))

    def _class_settings(self) -> ClassSettingsCache:
        if self.class_settings is None:
            own = self.settings.ingest
            self.class_settings = ClassSettingsCache(
                self.broker.connection,
                self.codec,
                ttl_s=own.class_settings_cache_s,
                timeout_s=own.class_settings_timeout_s,
            )
        return self.class_settings

    async def readiness(self) -> dict[str, bool]:
        # Also the HTTP edge's /readyz, which has no listener to add "started".
        return {"started": self._started, **await super().readiness()}

    async def start_work(self, lifecycle: Lifecycle) -> bool:
        own = self.settings.ingest
        auth = AuthClient(self.broker.connection, self.codec, timeout_s=own.auth_timeout_s)
        app = create_http_app(
            keys=ApiKeyCache(auth, own.api_key_cache_s),
            ingest=self.ingest_metrics,
            ingest_events=self.ingest_events,
            class_settings=self._class_settings(),
            imports=self.imports,
            readiness=self.readiness,
            max_body_bytes=own.max_body_bytes,
            asyncapi=asyncapi_document(self.broker),
            audit=self.audit,
        )
        self.http = HttpServer(
            served(app, self.settings.access, self.latency),
            host=own.host,
            port=own.port,
            limits=self.settings.clients,
        )
        if not await self.http.start():
            return False
        self._started = True
        return True

    async def finish_work(self) -> None:
        if self.http is not None:
            await self.http.stop()  # finishes requests in flight
