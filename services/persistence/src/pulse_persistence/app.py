"""The persistence service: METRICS, EVENTS, LOGS and DEADLETTER streams into the database,
acked only after commit."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import msgspec
from faststream.nats import ConsumerConfig, NatsRouter
from nats.aio.msg import Msg
from pulse_contracts import (
    CONTENT_TYPE_HEADER,
    MSGPACK,
    DeadLetter,
    RpcError,
    SeriesBatch,
    decode_untrusted,
    subjects,
)
from pulse_contracts.audit import AUDIT_VERBS, LogBatch
from pulse_contracts.audit.subjects import (
    AUDIT_QUEUE,
    LOGS_STREAM,
    LOGS_SUBJECTS,
    PERSISTENCE_DEADLETTER_DURABLE,
    PERSISTENCE_LOGS_DURABLE,
    RPC_AUDIT,
)
from pulse_runtime.audit.text_secrets import redact_text
from pulse_runtime.consumer import PullConsumer
from pulse_runtime.database import answered, has_timescaledb
from pulse_runtime.logging import get_logger
from pulse_runtime.messaging import RawMessage, skip_decoding
from pulse_runtime.replies import ReplyTooLarge, send_reply
from pulse_runtime.service import Lifecycle
from pulse_runtime.streams import pulse_streams
from pulse_runtime.telemetry import counter, histogram
from pulse_runtime.tracing import (
    TRACEPARENT,
    child_traceparent,
    logged_with_trace_of,
    trace_id_of,
)
from pulse_runtime.verbs import VerbResponder
from pulse_runtime.worker import OwnedDatabase, Worker

from .audit.answers import AuditAnswers
from .audit.dead_letters import DeadLetterBatches, StoredLetter
from .audit.log_batches import LogBatches
from .audit.record_writer import RecordWriter
from .audit.replay import DeadLetterReplays, NatsResend
from .audit.retention import AuditRetention
from .backfill import RollupRefresher
from .classroom.answers import ClassroomAnswers
from .classroom.event_batches import ClassEventBatches
from .classroom.settings_verb import ProducerSettingsVerb
from .classroom.writer import EventsWriter, TracedEvents
from .lag import StreamLag
from .policies import REFRESH, apply_audit_policies, apply_policies
from .queries import MetricsQueries, rollups_present
from .schema import migrate, prepare_connection
from .series_batches import SeriesBatches
from .settings import Settings
from .stream_batches import Batch, BatchRows, StreamBatches
from .writer import MetricsWriter

log = get_logger(__name__)


class PersistenceService(Worker):
    def __init__(self, settings: Settings) -> None:
        super().__init__(
            "persistence",
            settings.common,
            settings.persistence,
            streams=pulse_streams(settings.common),
            database=OwnedDatabase(
                settings.database,
                pool_size=settings.persistence.pool_size,
                migrate=migrate,
                prepare_connection=prepare_connection,
            ),
            audit=settings.audit,
        )
        self.settings = settings
        self.queries: MetricsQueries | None = None
        self._merges = counter(
            self.registry,
            "pulse_persistence_merged_writes_total",
            "Writes that met already stored points and were merged (redeliveries, repeats)",
        )
        self._refresh_seconds = histogram(
            self.registry,
            "pulse_persistence_rollup_refresh_seconds",
            "Refreshes of the rollups after backfill (TimescaleDB), per rollup",
        )
        self.refresher: RollupRefresher | None = None
        self._lag = StreamLag(self.registry)
        self._reply_parts = counter(
            self.registry,
            "pulse_persistence_reply_parts_total",
            "Messages sent as parts of query answers too big for one NATS message",
        )
        self._too_large = counter(
            self.registry,
            "pulse_persistence_replies_too_large_total",
            "Answers refused (history_too_large): too big for one message, asker takes no parts",
        )
        self.broker.include_router(self._router())
        self.consumer: PullConsumer | None = None
        # The classroom (ADR 0023): classes and the class views.
        self.classroom = ClassroomAnswers(self.codec, self.broker)
        self.broker.include_router(self.classroom.router())
        # ... and the EVENTS consumer, and the producers' settings verb.
        self.producer_settings = ProducerSettingsVerb(self.codec)
        self.broker.include_router(self.producer_settings.router())
        self.events_consumer: PullConsumer | None = None
        self.metrics: StreamBatches[SeriesBatch] | None = None
        self.events: StreamBatches[TracedEvents] | None = None
        # The audit trail: LOGS and DEADLETTER into their tables, and their retention.
        self.logs: StreamBatches[LogBatch] | None = None
        self.dead_letters: StreamBatches[StoredLetter] | None = None
        self.logs_consumer: PullConsumer | None = None
        self.dead_letters_consumer: PullConsumer | None = None
        self.retention: AuditRetention | None = None
        # ... and the admins' views of it (rpc.audit.*).
        self.audit_answers = AuditAnswers()
        self.audit_verbs = VerbResponder(
            RPC_AUDIT,
            sorted(set(AUDIT_VERBS.values())),
            queue=AUDIT_QUEUE,
            workers=settings.persistence.audit_workers,
            reply_for=self.audit_answers.reply_for,
            pack=self.codec.pack,
            requests=counter(
                self.registry,
                "pulse_persistence_audit_requests_total",
                "rpc.audit requests (the admins' audit views), by verb and outcome",
                ("verb", "outcome"),
            ),
        )
        self.broker.include_router(self.audit_verbs.router())

    def _router(self) -> NatsRouter:
        router = NatsRouter()

        @router.subscriber(
            subjects.RPC_QUERY_METRICS,
            queue=subjects.PERSISTENCE_QUEUE,
            decoder=skip_decoding,
            no_reply=True,
            title="rpc.query.metrics",
        )
        async def query_metrics(message: RawMessage) -> None:
            await self.answer_metrics_query(message.raw_message)

        @router.subscriber(
            subjects.RPC_QUERY_CATALOG,
            queue=subjects.PERSISTENCE_QUEUE,
            decoder=skip_decoding,
            no_reply=True,
            title="rpc.query.catalog",
        )
        async def query_catalog(message: RawMessage) -> None:
            await self.answer_catalog_query(message.raw_message)

        return router

    async def set_aside(self, msg: Msg, reason: str) -> None:
        """Send ``msg`` to DEADLETTER with ``reason`` and the message's trace, and terminate
        it; the decision is a task (``deadletter_decision``) in the same trace."""
        headers = dict(msg.headers or {})
        traceparent = headers.get(TRACEPARENT)
        subject = subjects.deadletter_subject(msg.subject.split(".", 1)[0])
        with logged_with_trace_of(msg.headers):
            log.error("message set aside", subject=msg.subject, reason=reason)
            async with self.tasks.task(
                "deadletter_decision",
                trace_id=trace_id_of(traceparent),
                input_data={
                    "subject": msg.subject,
                    "stream_sequence": _stream_sequence(msg),
                    "bytes": len(msg.data),
                    "reason": redact_text(reason),
                },
            ) as decision:
                letter = DeadLetter(
                    origin=msg.subject,
                    reason=reason,
                    data=msg.data,
                    headers=headers,
                    received_at=datetime.now(UTC),
                    trace_id=decision.trace_id,
                )
                await self.broker.publish(
                    self.codec.pack(letter),
                    subject,
                    headers={
                        CONTENT_TYPE_HEADER: MSGPACK,
                        TRACEPARENT: child_traceparent(traceparent)
                        if traceparent is not None and trace_id_of(traceparent)
                        else decision.traceparent,
                    },
                    stream=subjects.DEADLETTER_STREAM,
                )
                await msg.term()
                decision.output_data = {"deadletter_subject": subject}

    async def answer_metrics_query(self, msg: Msg) -> None:
        assert self.queries is not None
        queries = self.queries
        try:
            query = decode_untrusted(self.codec.metrics_query, msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await self._respond(msg, RpcError(code="bad_request", message=str(exc)))
            return
        answer = await answered(lambda: queries.metrics(query), failed="the query failed")
        await self._respond(msg, answer, part_bytes=query.part_bytes)

    async def answer_catalog_query(self, msg: Msg) -> None:
        assert self.queries is not None
        try:
            query = self.codec.catalog_query.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            await self._respond(msg, RpcError(code="bad_request", message=str(exc)))
            return
        answer = await answered(self.queries.catalog, failed="the query failed")
        await self._respond(msg, answer, part_bytes=query.part_bytes)

    async def _respond(self, msg: Msg, reply: object, *, part_bytes: int = 0) -> None:
        """Send the answer, in parts when it needs them and the asker takes them; when it
        cannot go, an error goes instead: the asker never waits for its timeout."""
        if not msg.reply:
            return
        nats = self.broker.connection
        try:
            parts = await send_reply(nats, msg.reply, self.codec.pack(reply), part_bytes=part_bytes)
        except ReplyTooLarge as exc:
            self._too_large.inc()
            log.warning(
                "answer too large for one message; the asker takes no parts", error=str(exc)
            )
            refusal = RpcError(
                code="history_too_large",
                message=f"{exc}, and the asker takes no parts (a gateway older than"
                " persistence?): upgrade it, or narrow 'from'/'to', or give max_points",
            )
            await send_reply(nats, msg.reply, self.codec.pack(refusal), part_bytes=0)
            return
        except Exception:
            log.exception("answer not sent")
            failure = RpcError(code="internal_error", message="the answer could not be sent")
            with contextlib.suppress(Exception):  # the connection itself may be gone
                await send_reply(nats, msg.reply, self.codec.pack(failure), part_bytes=0)
            return
        if parts:
            self._reply_parts.inc(parts)
            log.debug("answer sent in parts", parts=parts)

    def stream_batches(
        self, rows: BatchRows[Batch], stopping: asyncio.Event
    ) -> StreamBatches[Batch]:
        return StreamBatches(
            rows,
            set_aside=self.set_aside,
            retry_delay_s=self.settings.persistence.retry_delay_s,
            stopping=stopping,
        )

    async def prepare(self, lifecycle: Lifecycle) -> bool:
        assert self.database is not None
        pool = self.database.pool
        async with pool.acquire() as conn:
            timescale = await has_timescaledb(conn)
            if timescale:
                await self._apply_policies(conn)
            rollups = timescale and await rollups_present(conn)
        log.info("history storage", timescaledb=timescale, rollups=rollups)
        if rollups:
            self.refresher = RollupRefresher(
                pool,
                REFRESH,
                delay_s=self.settings.persistence.backfill_refresh_delay_s,
                on_refresh=lambda _, seconds: self._refresh_seconds.observe(seconds),
            )
            self.refresher.start()
        self.classroom.pool = pool
        self.producer_settings.pool = pool
        series = SeriesBatches(
            self.codec,
            MetricsWriter(pool, on_merge=self._merges.inc),
            self.registry,
            self.refresher,
        )
        self.metrics = self.stream_batches(series, lifecycle.stopping)
        events = ClassEventBatches(EventsWriter(pool), self.registry)
        self.events = self.stream_batches(events, lifecycle.stopping)
        self.logs = self.stream_batches(
            LogBatches(RecordWriter(pool), self.registry), lifecycle.stopping
        )
        letters = DeadLetterBatches(pool, self.registry)
        # A dead letter the database refuses is kept in a minimal form, never set aside again.
        self.dead_letters = StreamBatches(
            letters,
            set_aside=letters.store_refused,
            retry_delay_s=self.settings.persistence.retry_delay_s,
            stopping=lifecycle.stopping,
        )
        self.audit_answers.pool = pool
        self.audit_answers.replays = DeadLetterReplays(
            pool,
            NatsResend(
                lambda: self.broker.connection, timeout_s=self.settings.persistence.replay_timeout_s
            ),
            self.tasks,
        )
        self.retention = AuditRetention(
            pool, self.tasks, self.settings.audit, timescale=timescale, stopping=lifecycle.stopping
        )
        self.queries = MetricsQueries(
            pool, max_points=self.settings.persistence.max_query_points, rollups=rollups
        )
        return True

    async def start_work(self, lifecycle: Lifecycle) -> bool:
        assert self.metrics is not None
        assert self.events is not None
        self.consumer = self._pull_consumer(
            subjects.METRICS_STREAM,
            subjects.METRICS_SUBJECTS,
            subjects.PERSISTENCE_METRICS_DURABLE,
            self.metrics.persist,
        )
        await self.consumer.start()
        self.events_consumer = self._pull_consumer(
            subjects.EVENTS_STREAM,
            subjects.EVENTS_SUBJECTS,
            subjects.PERSISTENCE_EVENTS_DURABLE,
            self.events.persist,
        )
        await self.events_consumer.start()
        assert self.logs is not None
        assert self.dead_letters is not None
        # Audit batches are large (up to PULSE_AUDIT_BATCH_RECORDS records each): fewer per
        # transaction than points.
        audit_batch = max(1, self.settings.persistence.batch_size // 20)
        self.logs_consumer = self._pull_consumer(
            LOGS_STREAM,
            LOGS_SUBJECTS,
            PERSISTENCE_LOGS_DURABLE,
            self.logs.persist,
            batch_size=audit_batch,
        )
        await self.logs_consumer.start()
        self.dead_letters_consumer = self._pull_consumer(
            subjects.DEADLETTER_STREAM,
            subjects.DEADLETTER_SUBJECTS,
            PERSISTENCE_DEADLETTER_DURABLE,
            self.dead_letters.persist,
            batch_size=audit_batch,
        )
        await self.dead_letters_consumer.start()
        if self.retention is not None:
            self.retention.start()
        return True

    async def _apply_policies(self, conn: asyncpg.Connection) -> None:
        """TimescaleDB's policies from settings, as a task (a step per group of policies)."""
        own, audit = self.settings.persistence, self.settings.audit
        async with self.tasks.task(
            "timescaledb_policies",
            input_data={
                "compress_after_s": own.compress_after_s,
                "retention_s": own.retention_s,
                "rollup_retention_s": own.rollup_retention_s,
                "audit_retention_s": audit.retention_s,
            },
        ) as task:
            async with task.step("metrics and rollups"):
                await apply_policies(conn, own)
            async with task.step("audit retention"):
                await apply_audit_policies(conn, audit)

    def _pull_consumer(
        self,
        stream: str,
        subject: str,
        durable: str,
        handler: Callable[[list[Msg]], Awaitable[None]],
        *,
        batch_size: int | None = None,
    ) -> PullConsumer:
        own = self.settings.persistence
        batch_size = batch_size or own.batch_size
        return PullConsumer(
            self.broker.config.connection_state.stream,
            stream=stream,
            subject=subject,
            durable=durable,
            config=ConsumerConfig(ack_wait=own.ack_wait_s, max_ack_pending=batch_size * 20),
            batch_size=batch_size,
            batch_timeout_s=own.batch_timeout_s,
            handler=handler,
            concurrency=own.writers,
            on_fetched=self._lag.observer(stream),
        )

    async def finish_work(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()  # finishes and acks the batch in hand
        if self.events_consumer is not None:
            await self.events_consumer.stop()
        for consumer in (self.logs_consumer, self.dead_letters_consumer):
            if consumer is not None:
                await consumer.stop()
        if self.retention is not None:
            await self.retention.stop()  # `stopping` is set: ends after its current batch
        if self.refresher is not None:
            # A refresh still owed is made at the next start (the invalidations are stored).
            await self.refresher.stop()
        # Then the broker stops the query responder and drains NATS, and the pool closes.


def _stream_sequence(msg: Msg) -> int | None:
    try:
        return int(msg.metadata.sequence.stream)
    except Exception:  # not a JetStream message
        return None
