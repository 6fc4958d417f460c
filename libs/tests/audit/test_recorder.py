"""The audit recorder: bounded buffer, batches by kind and size, the spool while the publish
fails, the drops counted. The publish here is a function that keeps what it is given (or
refuses it); the recorder against a real nats-server is in tests/e2e/audit/."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from prometheus_client import CollectorRegistry
from pulse_contracts.audit import AccessRecord, LogBatch, TaskStep
from pulse_runtime.audit import AuditRecorder, new_key
from pulse_runtime.audit.spool import Spool
from pulse_runtime.settings import AuditSettings

_batches = msgspec.msgpack.Decoder(LogBatch)


def step(number: int, *, service: str = "ingest", padding: str = "") -> TaskStep:
    return TaskStep(
        key=new_key(),
        trace_id="ab" * 16,
        service=service,
        task_id="cd" * 16,
        task_name="bulk_import",
        step_name=f"chunk {number}",
        status="SUCCESS",
        input_data={"padding": padding} if padding else None,
        execution_order=number,
        created_at=datetime.now(UTC),
    )


def access(number: int) -> AccessRecord:
    return AccessRecord(
        key=new_key(),
        trace_id="ef" * 16,
        service="ingest",
        method="POST",
        route="/api/v1/metrics",
        path="/api/v1/metrics",
        request_header={},
        response_status=200 + number,
        duration_ms=1.5,
        created_at=datetime.now(UTC),
    )


class Bus:
    """Keeps what is published while ``up``; raises like a timed-out publish otherwise."""

    def __init__(self) -> None:
        self.up = True
        self.messages: list[tuple[str, LogBatch, dict[str, str]]] = []

    async def publish(self, subject: str, data: bytes, headers: Mapping[str, str]) -> None:
        await asyncio.sleep(0)
        if not self.up:
            raise TimeoutError("nats: timeout")
        self.messages.append((subject, _batches.decode(data), dict(headers)))

    def connected(self) -> bool:
        return True  # a publish that fails is what sends batches to the spool here

    def orders(self) -> list[int]:
        return [
            record.execution_order
            for _, batch, _ in self.messages
            for record in batch.records
            if isinstance(record, TaskStep)
        ]


async def until(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "not within the time given"
        await asyncio.sleep(0.01)


def settings(tmp_path: Path, **changes: object) -> AuditSettings:
    values: dict[str, object] = {
        "flush_interval_s": 0.02,
        "spool_dir": str(tmp_path / "spool"),
        "batch_records": 10,
        "stop_timeout_s": 2.0,
    }
    return AuditSettings(**(values | changes))  # type: ignore[arg-type]


def metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_records_are_published_in_batches_by_kind_each_with_its_own_id(
    tmp_path: Path,
) -> None:
    registry = CollectorRegistry()
    recorder = AuditRecorder("ingest", settings(tmp_path), registry)
    bus = Bus()
    recorder.start(bus.publish, bus.connected)
    for number in range(1, 26):
        recorder.record(step(number))
    recorder.record(access(1))
    await until(lambda: sum(len(b.records) for _, b, _ in bus.messages) == 26)
    await recorder.stop()
    recorder.close()

    subjects = {subject for subject, _, _ in bus.messages}
    assert subjects == {"logs.task.ingest", "logs.access.ingest"}
    assert all(len(batch.records) <= 10 for _, batch, _ in bus.messages)
    assert bus.orders() == list(range(1, 26))
    ids = [headers["Nats-Msg-Id"] for _, _, headers in bus.messages]
    assert len(set(ids)) == len(ids)
    assert {headers["Content-Type"] for _, _, headers in bus.messages} == {"application/msgpack"}
    assert metric(registry, "pulse_audit_records_total", kind="task") == 25
    assert metric(registry, "pulse_audit_records_published_total") == 26
    assert metric(registry, "pulse_audit_batches_published_total") == len(bus.messages)


async def test_a_batch_is_bounded_in_bytes(tmp_path: Path) -> None:
    recorder = AuditRecorder("ingest", settings(tmp_path, batch_records=500, batch_bytes=4096))
    bus = Bus()
    for number in range(1, 21):
        recorder.record(step(number, padding="p" * 900))
    recorder.start(bus.publish, bus.connected)
    await recorder.stop()
    recorder.close()
    assert bus.orders() == list(range(1, 21))
    assert len(bus.messages) >= 5
    assert all(len(msgspec.msgpack.encode(batch)) <= 4096 for _, batch, _ in bus.messages)


async def test_a_full_buffer_drops_and_counts_and_never_raises(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    recorder = AuditRecorder("gateway", settings(tmp_path, buffer_records=5), registry)
    for number in range(1, 9):
        recorder.record(step(number))
    assert recorder.buffered == 5
    assert metric(registry, "pulse_audit_records_dropped_total", reason="buffer_full") == 3
    assert registry.get_sample_value("pulse_audit_buffered_records") == 5
    bus = Bus()
    recorder.start(bus.publish, bus.connected)
    await recorder.stop()
    recorder.close()
    assert bus.orders() == [1, 2, 3, 4, 5]


async def test_a_record_too_big_for_any_batch_is_dropped_and_counted(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    recorder = AuditRecorder("ingest", settings(tmp_path, batch_bytes=2048), registry)
    recorder.record(step(1))
    recorder.record(step(2, padding="p" * 5000))
    recorder.record(step(3))
    bus = Bus()
    recorder.start(bus.publish, bus.connected)
    await recorder.stop()
    recorder.close()
    assert bus.orders() == [1, 3]
    assert metric(registry, "pulse_audit_records_dropped_total", reason="too_big") == 1


async def test_while_publishing_fails_batches_are_spooled_then_sent_in_order(
    tmp_path: Path,
) -> None:
    registry = CollectorRegistry()
    recorder = AuditRecorder("ingest", settings(tmp_path), registry)
    bus = Bus()
    bus.up = False
    recorder.start(bus.publish, bus.connected)
    for number in range(1, 31):
        recorder.record(step(number))
    spool = recorder.spool
    assert spool is not None
    await until(lambda: recorder.buffered == 0 and spool.size > 0)
    assert bus.messages == []
    assert metric(registry, "pulse_audit_batches_spooled_total") >= 3
    assert (registry.get_sample_value("pulse_audit_spooled_bytes") or 0) > 0
    assert metric(registry, "pulse_audit_publish_failures_total") >= 1

    bus.up = True
    recorder.record(step(31))
    await until(lambda: len(bus.orders()) == 31)
    await recorder.stop()
    recorder.close()
    assert sorted(bus.orders()) == list(range(1, 32))
    assert registry.get_sample_value("pulse_audit_spooled_bytes") == 0
    assert not list((tmp_path / "spool" / "ingest").glob("*.spool"))


async def test_at_stop_what_cannot_be_published_is_spooled_for_the_next_process(
    tmp_path: Path,
) -> None:
    bus = Bus()
    bus.up = False
    first = AuditRecorder("persistence", settings(tmp_path, flush_interval_s=60))
    first.start(bus.publish, bus.connected)
    for number in range(1, 16):
        first.record(step(number, service="persistence"))
    await first.stop()
    first.close()
    assert bus.messages == []

    bus.up = True
    second = AuditRecorder("persistence", settings(tmp_path))
    second.start(bus.publish, bus.connected)
    await until(lambda: len(bus.orders()) == 15)
    await second.stop()
    second.close()
    assert bus.orders() == list(range(1, 16))


async def test_records_made_after_stop_are_spooled(tmp_path: Path) -> None:
    bus = Bus()
    recorder = AuditRecorder("ingest", settings(tmp_path))
    recorder.start(bus.publish, bus.connected)
    await recorder.stop()
    recorder.record(step(1))
    recorder.close()
    spool = Spool.open(tmp_path / "spool", "ingest", max_bytes=1 << 20)
    oldest = spool.oldest()
    assert oldest is not None
    assert [batch.records for batch in oldest[1]] == [1]
    spool.close()


async def test_without_a_spool_failed_batches_are_dropped_and_counted(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    recorder = AuditRecorder("ingest", settings(tmp_path, spool_max_bytes=0), registry)
    bus = Bus()
    bus.up = False
    recorder.start(bus.publish, bus.connected)
    for number in range(1, 6):
        recorder.record(step(number))
    await recorder.stop()
    recorder.close()
    assert metric(registry, "pulse_audit_records_dropped_total", reason="spool_full") == 5
    assert not (tmp_path / "spool").exists()
