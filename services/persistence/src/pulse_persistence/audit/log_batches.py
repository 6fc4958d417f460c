"""The LOGS stream's part of :class:`~pulse_persistence.stream_batches.StreamBatches`: a
message is a :class:`~pulse_contracts.audit.LogBatch` of one service's access records or task
steps, written by :class:`~.record_writer.RecordWriter`. A message that can never be stored
(undecodable, a key that is no uuid, a number out of its column's range) is set aside to
DEADLETTER with the reason, and the others of its batch are stored."""

from __future__ import annotations

import re
import time

import msgspec
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry
from pulse_contracts import decode_untrusted
from pulse_contracts.audit import AccessRecord, LogBatch, LogRecord
from pulse_runtime.logging import get_logger
from pulse_runtime.telemetry import counter, histogram

from .record_writer import RecordWriter

log = get_logger(__name__)

# What PostgreSQL's uuid takes from Pulse: 32 hex digits (new_key(), uuid4().hex), or dashed.
_UUID = re.compile(r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12})$")
_INT4 = (-(2**31), 2**31 - 1)
_SMALLINT = (-(2**15), 2**15 - 1)


class LogBatches:
    what = "log batch"

    def __init__(self, writer: RecordWriter, registry: CollectorRegistry) -> None:
        self._writer = writer
        self._decoder = msgspec.msgpack.Decoder(LogBatch)
        self._stored = counter(
            registry,
            "pulse_persistence_audit_records_stored_total",
            "Audit records stored for the first time (repeats are not counted), by kind",
            ("kind",),
        )
        self._received = counter(
            registry, "pulse_persistence_audit_records_received_total", "Audit records consumed"
        )
        self._write_seconds = histogram(
            registry,
            "pulse_persistence_audit_write_seconds",
            "Write time per batch of LOGS messages",
        )
        self.failures = counter(
            registry,
            "pulse_persistence_audit_write_failures_total",
            "Batches of LOGS messages nacked for retry (the database away)",
        )

    def decode(self, msg: Msg) -> LogBatch:
        return decode_untrusted(self._decoder, msg.data)

    def refusal(self, batch: LogBatch) -> str | None:
        for record in batch.records:
            if reason := _refusal(record):
                return f"audit record {record.key[:40]!r}: {reason}"
        return None

    async def write(self, batches: list[LogBatch]) -> None:
        started = time.perf_counter()
        stored = await self._writer.write(batches)
        self._write_seconds.observe(time.perf_counter() - started)
        received = sum(len(batch.records) for batch in batches)
        self._received.inc(received)
        self._stored.labels(kind="access").inc(stored.access)
        self._stored.labels(kind="task").inc(stored.steps)
        log.debug("audit records persisted", messages=len(batches), records=received)


def _refusal(record: LogRecord) -> str | None:
    """Why a record can never be stored (asyncpg would refuse to send it), or None."""
    if isinstance(record, AccessRecord):
        ranges = [("response_status", record.response_status, _SMALLINT)] + [
            (name, value, _INT4)
            for name, value in (
                ("frames_in", record.frames_in),
                ("frames_out", record.frames_out),
                ("close_code", record.close_code),
            )
        ]
        ids = [("key", record.key)]
    else:
        ranges = [("execution_order", record.execution_order, _INT4)]
        ids = [("key", record.key), ("task_id", record.task_id)]
    for name, identifier in ids:
        if not _UUID.match(identifier):
            return f"{name} is not a uuid"
    for name, value, (low, high) in ranges:
        if value is not None and not low <= value <= high:
            return f"{name} out of range"
    return None
