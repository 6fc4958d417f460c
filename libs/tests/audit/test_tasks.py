"""The task log: what a run, its steps, their failures and their data become as records."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import msgspec
import pytest
import structlog
from pulse_contracts.audit import TaskStep
from pulse_runtime.audit import RecordList
from pulse_runtime.audit.tasks import MAX_DATA_BYTES, TaskLog
from pulse_runtime.audit.text_secrets import REDACTED, redact_text
from pulse_runtime.tracing import logged_with_trace_of, new_traceparent, trace_id_of

JWT = (
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwicm9sZSI6ImFkbWluIn0"
    ".c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"
)
API_KEY = "pk_1a2b3c4d_Xk3P9yq-7L0vNwq2RzT8uVb5eD4sA1cF6gH0jK9mLo"


def steps(records: RecordList) -> list[TaskStep]:
    assert all(isinstance(record, TaskStep) for record in records)
    return [record for record in records if isinstance(record, TaskStep)]


def statuses(records: RecordList) -> list[tuple[str, str, int]]:
    return [(step.step_name, step.status, step.execution_order) for step in steps(records)]


async def test_a_run_records_start_each_step_and_a_final_success_in_order() -> None:
    records = RecordList()
    tasks = TaskLog(records, service="ingest")
    async with tasks.task("bulk_import", input_data={"rows": 3}) as task:
        async with task.step("chunk 1", input_data={"first_line": 1}) as step:
            step.output_data = {"points": 10}
        with task.step("chunk 2") as step:
            step.progress({"rows": 1})
            step.output_data = {"points": 5}
        task.output_data = {"chunks": 2}

    assert statuses(records) == [
        ("bulk_import", "START", 1),
        ("chunk 1", "SUCCESS", 2),
        ("chunk 2", "IN_PROGRESS", 3),
        ("chunk 2", "SUCCESS", 4),
        ("bulk_import", "SUCCESS", 5),
    ]
    recorded = steps(records)
    assert {step.task_id for step in recorded} == {task.task_id}
    assert uuid.UUID(hex=task.task_id).hex == task.task_id
    assert {step.task_name for step in recorded} == {"bulk_import"}
    assert {step.service for step in recorded} == {"ingest"}
    assert {step.trace_id for step in recorded} == {task.trace_id}
    assert len({step.key for step in recorded}) == 5
    assert recorded[0].input_data == {"rows": 3}
    assert recorded[1].input_data == {"first_line": 1}
    assert recorded[1].output_data == {"points": 10}
    assert recorded[2].output_data == {"rows": 1}
    assert recorded[4].output_data == {"chunks": 2}
    assert all(step.error_message is None for step in recorded)
    assert all(step.created_at.tzinfo is not None for step in recorded)


async def test_a_failing_step_records_its_error_and_fails_the_run_then_raises() -> None:
    records = RecordList()
    tasks = TaskLog(records, service="ingest")

    async def run() -> None:
        async with tasks.task("bulk_import") as task:
            async with task.step("chunk 1"):
                pass
            async with task.step("chunk 2", input_data={"first_line": 5}):
                raise ValueError("line 7: value is not a number")

    with pytest.raises(ValueError, match="line 7"):
        await run()

    assert statuses(records) == [
        ("bulk_import", "START", 1),
        ("chunk 1", "SUCCESS", 2),
        ("chunk 2", "FAILED", 3),
        ("bulk_import", "FAILED", 4),
    ]
    failed = steps(records)[2]
    assert failed.error_message == "ValueError: line 7: value is not a number"
    assert failed.stack_trace is not None
    assert "Traceback" in failed.stack_trace
    assert "line 7" in failed.stack_trace
    assert failed.input_data == {"first_line": 5}
    assert steps(records)[3].error_message == failed.error_message


async def test_a_run_that_is_cancelled_is_recorded_failed_and_the_cancel_goes_on() -> None:
    records = RecordList()
    tasks = TaskLog(records, service="persistence")

    async def work() -> None:
        async with tasks.task("retention") as task, task.step("metrics"):
            await asyncio.sleep(60)

    running = asyncio.create_task(work())
    await asyncio.sleep(0.01)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert statuses(records) == [
        ("retention", "START", 1),
        ("metrics", "FAILED", 2),
        ("retention", "FAILED", 3),
    ]
    assert steps(records)[1].error_message == "CancelledError"


async def test_secrets_in_an_error_and_its_stack_trace_are_redacted() -> None:
    records = RecordList()
    tasks = TaskLog(records, service="gateway")

    def connect(url: str, token: str, api_key: str) -> None:
        raise ConnectionError(
            f"refused {url} with Authorization: Bearer {token}, key {api_key}, password=hunter2"
        )

    with pytest.raises(ConnectionError):
        async with tasks.task("sync") as task, task.step("connect"):
            connect("postgresql://pulse:s3cr3t-pw@db:5432/pulse", JWT, API_KEY)

    failed = steps(records)[1]
    stored = msgspec.json.encode(failed).decode()
    for secret in (JWT, API_KEY, "hunter2", "s3cr3t-pw", JWT.split(".")[1]):
        assert secret not in stored
    assert failed.error_message is not None
    assert REDACTED in failed.error_message
    assert failed.stack_trace is not None
    assert "in connect" in failed.stack_trace


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        (f"token={JWT}&x=1", "x=1", JWT[:20]),
        ("{'password': 'hunter2', 'email': 'a@b.c'}", "a@b.c", "hunter2"),
        ('{"client_secret": "abc\\"def", "n": 3}', '"n": 3', "abc"),
        (f"X-API-Key: {API_KEY}", "X-API-Key", API_KEY),
        ("rt_Qm9vYmFyYmF6cXV4cXV1eA", "", "rt_Qm9vYmFy"),
        ("Cookie: pulse_refresh=abc123; theme=dark", "Cookie", "abc123"),
    ],
)
def test_redact_text_takes_out_what_looks_like_a_secret(text: str, kept: str, gone: str) -> None:
    redacted = redact_text(text)
    assert gone not in redacted
    assert kept in redacted
    assert REDACTED in redacted


def test_redact_text_leaves_ordinary_text_alone() -> None:
    text = 'File "/app/writer.py", line 42, in persist\n    rows = await conn.fetch(query)'
    assert redact_text(text) == text


class Chunk(msgspec.Struct):
    first_line: int
    at: datetime


async def test_data_is_made_json_without_nul_characters_or_secret_values() -> None:
    records = RecordList()
    tasks = TaskLog(records, service="ingest")
    at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    data = {
        "chunk": Chunk(first_line=3, at=at),
        "name": "cpu\x00load",
        "ids": (1, 2),
        "api_key": API_KEY,
        "ratio": float("nan"),
        "raw": b"\x00\x01",
        7: object(),
    }
    async with tasks.task("bulk_import", input_data=data):
        pass
    stored = steps(records)[0].input_data
    assert stored["chunk"] == {"first_line": 3, "at": "2024-05-01T12:00:00Z"}
    assert stored["name"] == "cpuload"
    assert stored["ids"] == [1, 2]
    assert stored["api_key"] == REDACTED
    assert stored["ratio"] is None
    assert isinstance(stored["raw"], str)
    assert isinstance(stored["7"], str)
    assert "\x00" not in msgspec.json.encode(stored).decode()


async def test_data_too_big_is_stored_as_a_truncated_marker() -> None:
    records = RecordList()
    tasks = TaskLog(records, service="ingest")
    big = {"rows": ["x" * 100] * (MAX_DATA_BYTES // 100 + 10)}
    async with tasks.task("bulk_import", input_data=big):
        pass
    stored = steps(records)[0].input_data
    assert set(stored) == {"$truncated"}
    assert stored["$truncated"]["bytes"] > MAX_DATA_BYTES
    assert stored["$truncated"]["preview"].startswith('{"rows":["xxx')


async def test_the_trace_id_is_the_messages_when_there_is_one_else_new_and_shared() -> None:
    records = RecordList()
    tasks = TaskLog(records, service="persistence")
    traceparent = new_traceparent()
    with logged_with_trace_of({"traceparent": traceparent}):
        async with tasks.task("deadletter_decision") as task:
            pass
    assert task.trace_id == trace_id_of(traceparent)

    async with tasks.task("retention") as outer:
        assert structlog.contextvars.get_contextvars()["trace_id"] == outer.trace_id
        async with tasks.task("retention_table") as inner:
            pass
        assert trace_id_of(outer.traceparent) == outer.trace_id
    assert inner.trace_id == outer.trace_id
    assert outer.trace_id != task.trace_id
    assert len(outer.trace_id) == 32
    assert "trace_id" not in structlog.contextvars.get_contextvars()

    async with tasks.task("given", trace_id="ab" * 16) as given:
        pass
    assert given.trace_id == "ab" * 16


async def test_two_runs_count_their_steps_apart() -> None:
    records = RecordList()
    tasks = TaskLog(records, service="notifier")
    async with tasks.task("sweep") as first, tasks.task("sweep") as second:
        first.record("archived", "SUCCESS", output_data={"deleted": 2})
        second.record("archived", "SUCCESS", output_data={"deleted": 0})
    by_run: dict[str, list[int]] = {}
    for step in steps(records):
        by_run.setdefault(step.task_id, []).append(step.execution_order)
    assert sorted(by_run.values()) == [[1, 2, 3], [1, 2, 3]]
