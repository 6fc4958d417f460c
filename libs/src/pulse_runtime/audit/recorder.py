"""The process's audit recorder: records in, LOGS batches out, never in the way.

:meth:`AuditRecorder.record` encodes a record (msgpack) into a bounded buffer and returns: it
never blocks, never raises, and a full buffer drops the record and counts it
(``pulse_audit_records_dropped_total{reason="buffer_full"}``). Encoding at record time spreads
the cost over the requests (each pays a few microseconds after its answer has gone), instead of
a pause of the event loop while a flush encodes hundreds at once — which a request arriving
then would wait out (the access log's p99, docs/audit.md). A background task takes the
buffer every ``flush_interval_s`` (sooner once a batch is full) and publishes it to JetStream's
LOGS stream, a :class:`~pulse_contracts.audit.LogBatch` per message on
``logs.<kind>.<service>`` (msgpack; each message bounded in records and bytes), with a
``Nats-Msg-Id`` of its own so a batch sent twice is stored once.

A batch NATS does not take (disconnected, no acknowledgement in time) goes to the local spool
(:mod:`.spool`), which is sent, oldest first, once NATS answers again, or by the next process
of the service on the same spool directory. At shutdown (:meth:`stop`) the buffer is published
within ``stop_timeout_s``; what is left is spooled.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import NamedTuple

import msgspec
from prometheus_client import CollectorRegistry
from pulse_contracts import CONTENT_TYPE_HEADER, MSGPACK
from pulse_contracts.audit import AccessRecord, LogRecord
from pulse_contracts.audit.subjects import LOGS_STREAM, logs_subject

from pulse_runtime.logging import get_logger
from pulse_runtime.settings import AuditSettings
from pulse_runtime.telemetry import counter, gauge

from .spool import Spool, SpooledBatch, SpoolUnavailable

log = get_logger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"
_SPOOL_SEGMENTS_PER_ROUND = 4
_BATCH_HEADERS = 16
"""Bytes of a batch that are not its records (the map and array headers)."""

Publish = Callable[[str, bytes, Mapping[str, str]], Awaitable[object]]
"""``publish(subject, data, headers)``: a JetStream publish to LOGS that returns once stored and
raises when not (a timeout, no connection)."""


class _PackedBatch(msgspec.Struct, frozen=True):
    """A :class:`~pulse_contracts.audit.LogBatch` whose records are already msgpack: the same
    bytes, each record encoded once (to measure it before it joins a batch)."""

    records: list[msgspec.Raw]


def kind_of(record: LogRecord) -> str:
    return "access" if isinstance(record, AccessRecord) else "task"


class _Encoded(NamedTuple):
    """A record in the buffer: its kind (the LOGS subject's) and its msgpack bytes."""

    kind: str
    packed: bytes


class AuditRecorder:
    """One per process: the :class:`~.sink.RecordSink` every part of the service records into."""

    def __init__(
        self, service: str, settings: AuditSettings, registry: CollectorRegistry | None = None
    ) -> None:
        self.service = service
        self.settings = settings
        self._buffer: deque[_Encoded] = deque()
        self._encoder = msgspec.msgpack.Encoder()
        self._spool: Spool | None = None
        self._publish: Publish | None = None
        self._connected: Callable[[], bool] = lambda: False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stop_deadline = 0.0
        self._warned_spool_full = False
        registry = registry if registry is not None else CollectorRegistry()
        self._records = counter(
            registry, "pulse_audit_records_total", "Audit records taken for publishing", ("kind",)
        )
        self._dropped = counter(
            registry,
            "pulse_audit_records_dropped_total",
            "Audit records lost: buffer_full, spool_full (NATS away and the spool at its cap),"
            " too_big (one record over PULSE_AUDIT_BATCH_BYTES), unencodable",
            ("reason",),
        )
        self._published = counter(
            registry, "pulse_audit_batches_published_total", "LOGS messages stored by JetStream"
        )
        self._published_records = counter(
            registry, "pulse_audit_records_published_total", "Audit records stored in LOGS"
        )
        self._failures = counter(
            registry,
            "pulse_audit_publish_failures_total",
            "LOGS publishes that failed (the batch went to the spool)",
        )
        self._spooled = counter(
            registry, "pulse_audit_batches_spooled_total", "LOGS batches written to the spool"
        )
        gauge(
            registry, "pulse_audit_buffered_records", "Audit records waiting to be published"
        ).set_function(lambda: len(self._buffer))
        gauge(registry, "pulse_audit_spooled_bytes", "Bytes of batches in the spool").set_function(
            lambda: self._spool.size if self._spool is not None else 0
        )

    # -- the sink ------------------------------------------------------------------------------

    def record(self, record: LogRecord) -> None:
        """Take ``record``; never blocks, never raises (a full buffer drops it, a record that
        cannot be encoded or is bigger than a batch is dropped too: each counted)."""
        try:
            if len(self._buffer) >= self.settings.buffer_records:
                self._dropped.labels(reason="buffer_full").inc()
                return
            kind = kind_of(record)
            packed = self._packed(record, kind)
            if packed is None:
                return
            self._buffer.append(_Encoded(kind, packed))
            self._records.labels(kind=kind).inc()
            if len(self._buffer) >= self.settings.batch_records:
                self._wake_up()
        except Exception:  # a metric or a wake-up that failed: recording must not fail
            return

    def _packed(self, record: LogRecord, kind: str) -> bytes | None:
        """``record`` as msgpack (module-level ``encode``: records may come from a handler's
        worker thread); None, counted, when it cannot be sent."""
        try:
            packed = msgspec.msgpack.encode(record)
        except Exception:
            self._dropped.labels(reason="unencodable").inc()
            log.exception("audit record could not be encoded", kind=kind)
            return None
        if len(packed) > self.settings.batch_bytes - _BATCH_HEADERS:
            self._dropped.labels(reason="too_big").inc()
            log.warning("audit record over the batch size dropped", bytes=len(packed))
            return None
        return packed

    def _wake_up(self) -> None:
        if self._loop is None or self._wake.is_set():
            return
        if threading.get_ident() == self._loop_thread:
            self._wake.set()
        else:  # a handler run in a worker thread
            self._loop.call_soon_threadsafe(self._wake.set)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def spool(self) -> Spool | None:
        return self._spool

    # -- start and stop ------------------------------------------------------------------------

    def open_spool(self) -> None:
        """Take this process's spool directory (batches left by a process before are sent
        first). Without one (no spool configured, or the directory unusable), batches NATS
        does not take are dropped and counted."""
        if self._spool is not None or self.settings.spool_max_bytes == 0:
            return
        try:
            self._spool = Spool.open(
                Path(self.settings.spool_dir),
                self.service,
                max_bytes=self.settings.spool_max_bytes,
            )
        except SpoolUnavailable as exc:
            log.warning("audit spool unavailable: batches NATS refuses are lost", error=str(exc))
            return
        if self._spool:
            log.info(
                "audit spool left by an earlier process",
                directory=str(self._spool.directory),
                bytes=self._spool.size,
            )

    def start(self, publish: Publish, connected: Callable[[], bool]) -> None:
        """Begin publishing with ``publish`` while ``connected()``; spool otherwise."""
        if self._task is not None:
            return
        self.open_spool()
        self._publish = publish
        self._connected = connected
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._task = asyncio.create_task(self._run(), name=f"audit-recorder-{self.service}")

    async def stop(self) -> None:
        """Publish what is buffered within ``stop_timeout_s`` and spool the rest; then
        :meth:`close` once nothing records any more."""
        if self._task is not None:
            self._stop_deadline = time.monotonic() + self.settings.stop_timeout_s
            self._stopping.set()
            self._wake.set()
            with contextlib.suppress(Exception):
                await self._task
            self._task = None
        self._spool_buffer()

    def close(self) -> None:
        """Spool whatever was recorded since :meth:`stop` (a message finished while the broker
        drained) and let go of the spool (the next process sends it)."""
        self._spool_buffer()
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def _spool_buffer(self) -> None:
        if self._buffer:
            self._spool_batches(self._take_batches(len(self._buffer)))

    # -- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.flush_interval_s)
            self._wake.clear()
            try:
                await self._flush(self.settings.batch_records * 4)
                await self._send_spooled()
            except Exception:
                log.exception("audit recorder round failed")
        await self._finish()

    async def _flush(self, most: int) -> None:
        """Publish up to ``most`` buffered records; what NATS does not take is spooled."""
        batches = self._take_batches(most)
        for index, batch in enumerate(batches):
            if not await self._send(batch):
                self._spool_batches(batches[index:])
                return

    async def _finish(self) -> None:
        """At stop: publish the buffer until the deadline, then spool the rest."""
        while self._buffer and time.monotonic() < self._stop_deadline:
            batches = self._take_batches(self.settings.batch_records)
            for index, batch in enumerate(batches):
                if time.monotonic() >= self._stop_deadline or not await self._send(batch):
                    self._spool_batches(batches[index:])
                    break
        self._spool_buffer()

    def _take_batches(self, most: int) -> list[SpooledBatch]:
        """Up to ``most`` records off the buffer, as LOGS messages: one kind each, at most
        ``batch_records`` records and ``batch_bytes`` bytes each, oldest first."""
        open_batches: dict[str, tuple[list[msgspec.Raw], int]] = {}
        done: list[SpooledBatch] = []
        limit_records = self.settings.batch_records
        limit_bytes = self.settings.batch_bytes - _BATCH_HEADERS
        for _ in range(min(most, len(self._buffer))):
            kind, packed = self._buffer.popleft()
            records, size = open_batches.get(kind, ([], 0))
            if records and (len(records) >= limit_records or size + len(packed) > limit_bytes):
                done.append(self._batch(kind, records))
                records, size = [], 0
            records.append(msgspec.Raw(packed))
            open_batches[kind] = (records, size + len(packed))
        done.extend(self._batch(kind, records) for kind, (records, _) in open_batches.items())
        return done

    def _batch(self, kind: str, records: list[msgspec.Raw]) -> SpooledBatch:
        return SpooledBatch(
            subject=logs_subject(kind, self.service),
            msg_id=uuid.uuid4().hex,
            data=self._encoder.encode(_PackedBatch(records=records)),
            records=len(records),
        )

    async def _send(self, batch: SpooledBatch) -> bool:
        """Publish one batch; False when NATS did not store it."""
        if self._publish is None or not self._connected():
            return False
        headers = {MSG_ID_HEADER: batch.msg_id, CONTENT_TYPE_HEADER: MSGPACK}
        try:
            await self._publish(batch.subject, batch.data, headers)
        except Exception as exc:
            self._failures.inc()
            log.warning("audit batch not published", error=f"{type(exc).__name__}: {exc}")
            return False
        self._published.inc()
        self._published_records.inc(batch.records)
        return True

    def _spool_batches(self, batches: list[SpooledBatch]) -> None:
        for batch in batches:
            if self._spool is not None and self._spool.append(batch):
                self._spooled.inc()
                self._warned_spool_full = False
                continue
            self._dropped.labels(reason="spool_full").inc(batch.records)
            if not self._warned_spool_full:
                self._warned_spool_full = True
                log.error("audit spool full or missing: records dropped", records=batch.records)

    async def _send_spooled(self) -> None:
        """Send the oldest spooled segments while NATS takes them (a few per round, so new
        records are not held up for long)."""
        spool = self._spool
        for _ in range(_SPOOL_SEGMENTS_PER_ROUND):
            if spool is None or not spool or not self._connected():
                return
            oldest = spool.oldest()
            if oldest is None:
                return
            path, batches = oldest
            for index, batch in enumerate(batches):
                if not await self._send(batch):
                    spool.rewrite(path, batches[index:])
                    return
            spool.remove(path)
            log.info("audit spool segment sent", segment=path.name, batches=len(batches))


def jetstream_publisher(
    broker_publish: Callable[..., Awaitable[object]], timeout_s: float
) -> Publish:
    """A :data:`Publish` over a FastStream broker's ``publish`` (to the LOGS stream)."""

    async def publish(subject: str, data: bytes, headers: Mapping[str, str]) -> object:
        return await broker_publish(
            data, subject, headers=dict(headers), stream=LOGS_STREAM, timeout=timeout_s
        )

    return publish
