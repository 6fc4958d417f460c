"""The persistence service: METRICS stream into the database, acked only after commit."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated

import asyncpg
import msgspec
import structlog
from faststream import AckPolicy, Context
from faststream.nats import ConsumerConfig, JStream, NatsRouter, PullSub
from faststream.nats.message import NatsBatchMessage
from nats.aio.msg import Msg
from pulse_contracts import (
    CONTENT_TYPE_HEADER,
    MSGPACK,
    Codec,
    DeadLetter,
    RpcError,
    SeriesBatch,
    subjects,
)
from pulse_runtime.database import create_pool
from pulse_runtime.health import HealthListener
from pulse_runtime.logging import get_logger
from pulse_runtime.messaging import create_broker, is_connected, start_broker
from pulse_runtime.service import Lifecycle
from pulse_runtime.streams import pulse_streams
from pulse_runtime.telemetry import counter, histogram, new_registry
from pulse_runtime.tracing import TRACEPARENT, trace_id_of

from .queries import MetricsQueries
from .schema import migrate, prepare_connection
from .settings import Settings
from .writer import MetricsWriter

log = get_logger(__name__)

BatchMessage = Annotated[NatsBatchMessage, Context("message")]
_RETRYABLE = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, TimeoutError)


async def _no_decode(message: NatsBatchMessage) -> None:
    # Messages are decoded one by one in the handler so that one bad message is set aside
    # instead of failing the whole batch.
    return None


class PersistenceService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.codec = Codec()
        self.registry = new_registry()
        self.broker = create_broker(settings.common, "persistence", self.registry)
        self.health = HealthListener(
            host=settings.persistence.host,
            port=settings.persistence.port,
            readiness=self.readiness,
            registry=self.registry,
        )
        self.pool: asyncpg.Pool | None = None
        self.writer: MetricsWriter | None = None
        self.queries: MetricsQueries | None = None
        self._rows = counter(self.registry, "pulse_persistence_rows_written_total", "New rows")
        self._points = counter(
            self.registry, "pulse_persistence_points_received_total", "Points consumed"
        )
        self._write_seconds = histogram(
            self.registry, "pulse_persistence_batch_write_seconds", "COPY+merge time per batch"
        )
        self._failures = counter(
            self.registry, "pulse_persistence_write_failures_total", "Batches nacked for retry"
        )
        self.broker.include_router(self._router())

    def _router(self) -> NatsRouter:
        router = NatsRouter()
        own = self.settings.persistence

        @router.subscriber(
            subjects.METRICS_SUBJECTS,
            stream=JStream(subjects.METRICS_STREAM, declare=False),
            durable=subjects.PERSISTENCE_METRICS_DURABLE,
            pull_sub=PullSub(batch_size=own.batch_size, timeout=own.batch_timeout_s, batch=True),
            config=ConsumerConfig(ack_wait=own.ack_wait_s, max_ack_pending=own.batch_size * 20),
            ack_policy=AckPolicy.MANUAL,
            decoder=_no_decode,
            title="metrics.>",
        )
        async def persist_metrics(message: BatchMessage) -> None:
            await self.persist_metrics(message.raw_message)

        @router.subscriber(
            subjects.RPC_QUERY_METRICS,
            queue=subjects.PERSISTENCE_QUEUE,
            decoder=_no_decode,
            no_reply=True,
            title="rpc.query.metrics",
        )
        async def query_metrics(message: Annotated[object, Context("message")]) -> None:
            await self.answer_metrics_query(message.raw_message)  # type: ignore[attr-defined]

        return router

    async def persist_metrics(self, messages: list[Msg]) -> None:
        batches: list[SeriesBatch] = []
        accepted: list[Msg] = []
        for msg in messages:
            try:
                batches.append(self.codec.series_batch.decode(msg.data))
                accepted.append(msg)
            except msgspec.DecodeError as exc:
                await self._set_aside(msg, f"undecodable series batch: {exc}")
        if not batches:
            return
        first_trace = trace_id_of((accepted[0].headers or {}).get(TRACEPARENT))
        structlog.contextvars.bind_contextvars(trace_id=first_trace)
        assert self.writer is not None
        started = time.perf_counter()
        try:
            rows = await self.writer.write(batches)
        except _RETRYABLE as exc:
            self._failures.inc()
            log.warning("database unavailable; batch will be redelivered", error=str(exc))
            for msg in accepted:
                await msg.nak(delay=self.settings.persistence.retry_delay_s)
            return
        finally:
            structlog.contextvars.unbind_contextvars("trace_id")
        elapsed = time.perf_counter() - started
        for msg in accepted:
            await msg.ack()
        points = sum(len(batch.values) for batch in batches)
        self._points.inc(points)
        self._rows.inc(rows)
        self._write_seconds.observe(elapsed)
        log.debug("batch persisted", messages=len(accepted), points=points, new_rows=rows)

    async def _set_aside(self, msg: Msg, reason: str) -> None:
        log.error("message set aside", subject=msg.subject, reason=reason)
        letter = DeadLetter(
            origin=msg.subject,
            reason=reason,
            data=msg.data,
            headers=dict(msg.headers or {}),
            received_at=datetime.now(UTC),
        )
        await self.broker.publish(
            self.codec.pack(letter),
            subjects.deadletter_subject(msg.subject.split(".", 1)[0]),
            headers={CONTENT_TYPE_HEADER: MSGPACK},
            stream=subjects.DEADLETTER_STREAM,
        )
        await msg.term()

    async def answer_metrics_query(self, msg: Msg) -> None:
        assert self.queries is not None
        try:
            query = self.codec.metrics_query.decode(msg.data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            reply: object = RpcError(code="bad_request", message=str(exc))
        else:
            try:
                reply = await self.queries.raw_points(query)
            except _RETRYABLE as exc:
                reply = RpcError(code="unavailable", message=f"database unavailable: {exc}")
        if msg.reply:
            await msg.respond(self.codec.pack(reply))

    async def readiness(self) -> dict[str, bool]:
        database = False
        if self.pool is not None:
            try:
                database = await asyncio.wait_for(self.pool.fetchval("SELECT true"), 2) is True
            except Exception:  # any failure means not ready
                database = False
        return {"nats": is_connected(self.broker), "database": database}

    async def start(self, lifecycle: Lifecycle) -> bool:
        await self.health.start()
        self.pool = await self._connect_database(lifecycle)
        if self.pool is None:
            return False
        async with self.pool.acquire() as conn:
            await migrate(conn)
        self.writer = MetricsWriter(self.pool)
        self.queries = MetricsQueries(
            self.pool, max_points=self.settings.persistence.max_query_points
        )
        streams = pulse_streams(self.settings.common)
        if not await start_broker(self.broker, lifecycle.stopping, streams):
            return False
        self.health.mark_started()
        return True

    async def _connect_database(self, lifecycle: Lifecycle) -> asyncpg.Pool | None:
        delay = 0.2
        while not lifecycle.stopping.is_set():
            try:
                return await create_pool(
                    self.settings.database.url,
                    max_size=self.settings.persistence.pool_size,
                    init=prepare_connection,
                )
            except (*_RETRYABLE, asyncpg.CannotConnectNowError) as exc:
                log.warning("database not reachable yet, retrying", error=str(exc))
            try:
                await asyncio.wait_for(lifecycle.stopping.wait(), delay)
            except TimeoutError:
                delay = min(delay * 2, 5.0)
        return None

    async def stop(self) -> None:
        await self.broker.stop()  # waits for the batch in hand, then drains NATS
        if self.pool is not None:
            await self.pool.close()
        await self.health.stop()
