"""Each log line about one message carries that message's trace id, not another's of its batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from nats.aio.msg import Msg
from pulse_contracts import Codec, DeadLetter, SeriesBatch, subjects, to_epoch_us
from pulse_contracts.audit import TaskStep
from pulse_persistence.app import PersistenceService
from pulse_persistence.series_batches import SeriesBatches
from pulse_persistence.settings import PersistenceSettings, Settings
from pulse_runtime.audit import RecordList, TaskLog
from pulse_runtime.settings import CommonSettings, DatabaseSettings
from pulse_runtime.tracing import trace_id_of

STORED, UNDECODABLE, REFUSED = (f"{n:032x}" for n in (0xA1, 0xB2, 0xC3))
NOW_US = to_epoch_us(datetime(2026, 12, 1, tzinfo=UTC))


class Acks:
    """Stands in for the NATS client a JetStream message is acknowledged through."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, payload: bytes = b"", **_: Any) -> None:
        self.sent.append((subject, payload))


class DatabaseRefusing:
    """``MetricsWriter.write``, refusing any batch that holds a point of ``source``."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.stored: list[str] = []

    async def write(self, batches: Sequence[SeriesBatch]) -> int:
        if any(batch.source == self.source for batch in batches):
            raise asyncpg.exceptions.DataError("invalid byte sequence")
        self.stored += [batch.source for batch in batches]
        return sum(len(batch.values) for batch in batches)


def message(acks: Acks, trace_id: str, data: bytes, number: int) -> Msg:
    return Msg(
        acks,  # type: ignore[arg-type]
        subject=subjects.metrics_subject("sim", "cpu"),
        reply=f"$JS.ACK.METRICS.persistence-metrics.1.{number}.{number}.0.0",
        data=data,
        headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
    )


def batch_of(source: str) -> bytes:
    return Codec().pack(SeriesBatch(source=source, name="cpu", times_us=[NOW_US], values=[1.0]))


async def test_messages_set_aside_are_logged_with_their_own_trace_id() -> None:
    service = PersistenceService(
        Settings(
            common=CommonSettings(),
            persistence=PersistenceSettings(),
            database=DatabaseSettings(),
        )
    )
    writer = DatabaseRefusing("bad")
    rows = SeriesBatches(service.codec, writer, service.registry)  # type: ignore[arg-type]
    metrics = service.stream_batches(rows, asyncio.Event())
    dead_letters: list[str] = []
    letters: list[tuple[DeadLetter, dict[str, str]]] = []
    decisions = RecordList()
    service.tasks = TaskLog(decisions, service="persistence")

    async def publish(payload: bytes, subject: str, **options: Any) -> None:
        dead_letters.append(subject)
        letters.append((service.codec.deadletter.decode(payload), options["headers"]))

    # A stand-in with the one signature used, for the broker's overloaded publish.
    service.broker.publish = publish  # type: ignore[method-assign, assignment]
    acks = Acks()
    batch = [
        message(acks, STORED, batch_of("good"), 1),  # first of the batch: it set the trace once
        message(acks, UNDECODABLE, b"\xc1", 2),
        message(acks, REFUSED, batch_of("bad"), 3),
    ]
    structlog.contextvars.bind_contextvars(trace_id="the caller's")
    try:
        with structlog.testing.capture_logs(
            processors=[structlog.contextvars.merge_contextvars]
        ) as logs:
            await metrics.persist(batch)
        after = structlog.contextvars.get_contextvars().get("trace_id")
    finally:
        structlog.contextvars.unbind_contextvars("trace_id")

    set_aside = [line for line in logs if line["event"] == "message set aside"]
    assert [(line["trace_id"], line["reason"].split(":")[0]) for line in set_aside] == [
        (UNDECODABLE, "undecodable series batch"),
        (REFUSED, "refused by the database"),
    ]
    assert writer.stored == ["good"]
    assert dead_letters == [subjects.deadletter_subject("metrics")] * 2
    assert len(acks.sent) == 3  # one ack, two terms: each message answered once
    assert after == "the caller's"  # bound per message, then given back

    # Each dead letter carries its message's trace, in its body and its traceparent.
    assert [letter.trace_id for letter, _ in letters] == [UNDECODABLE, REFUSED]
    assert [trace_id_of(headers["traceparent"]) for _, headers in letters] == [
        UNDECODABLE,
        REFUSED,
    ]
    # Each decision is a task run in that trace: START, then SUCCESS with where it went.
    steps = [record for record in decisions if isinstance(record, TaskStep)]
    assert [(s.trace_id, s.task_name, s.status) for s in steps] == [
        (UNDECODABLE, "deadletter_decision", "START"),
        (UNDECODABLE, "deadletter_decision", "SUCCESS"),
        (REFUSED, "deadletter_decision", "START"),
        (REFUSED, "deadletter_decision", "SUCCESS"),
    ]
    assert steps[0].input_data["subject"] == subjects.metrics_subject("sim", "cpu")
    assert steps[0].input_data["stream_sequence"] == 2
    assert steps[0].input_data["reason"].startswith("undecodable series batch")
    assert steps[1].output_data == {"deadletter_subject": subjects.deadletter_subject("metrics")}
