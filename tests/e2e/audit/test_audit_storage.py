"""What persistence does with LOGS and DEADLETTER: each record and each dead letter stored once
however often it is delivered, a bad LOGS message set aside with its trace (and the decision
recorded as a task in that trace), an undecodable dead letter kept as it came; and the
retention task deleting what is past retention, a step per table."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec
import nats
import pytest
from pulse_contracts import CONTENT_TYPE_HEADER, MSGPACK, DeadLetter, subjects
from pulse_contracts.audit import AccessRecord, LogBatch, TaskStep
from pulse_contracts.audit.subjects import LOGS_STREAM, logs_subject
from pulse_runtime.audit import new_key

from tests.support.stack import PulseStack, eventually

pytestmark = pytest.mark.integration

TIMEOUT_S = 30.0


def access_record(trace_id: str, status: int = 200) -> AccessRecord:
    return AccessRecord(
        key=new_key(),
        trace_id=trace_id,
        service="ingest",
        method="POST",
        route="/api/v1/metrics",
        path="/api/v1/metrics",
        request_header={"content-type": "application/json"},
        request_body={"name": "cpu\x00", "values": [1, 2]},
        response_status=status,
        response_body={"accepted": 2},
        duration_ms=3.25,
        ip_address="127.0.0.1",
        created_at=datetime.now(UTC),
    )


def task_step(trace_id: str, order: int) -> TaskStep:
    return TaskStep(
        key=new_key(),
        trace_id=trace_id,
        service="ingest",
        task_id=secrets.token_hex(16),
        task_name="bulk_import",
        step_name=f"chunk {order}",
        status="FAILED",
        input_data={"line": order},
        error_message="line 3: not a number",
        stack_trace="Traceback …",
        execution_order=order,
        created_at=datetime.now(UTC),
    )


async def fetch(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def test_records_and_dead_letters_are_stored_once_with_their_trace(
    make_stack: Any, database_url: str
) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence"])
    nc = await nats.connect(stack.nats_url)
    js = nc.jetstream()
    try:
        trace_id = secrets.token_hex(16)
        batch = LogBatch(records=[access_record(trace_id), task_step(trace_id, 1)])
        data = msgspec.msgpack.encode(batch)
        # The same batch three times, each with its own message id (as a recorder that spooled
        # a batch whose acknowledgement it never got would send it again).
        for _ in range(3):
            await js.publish(
                logs_subject("access", "ingest"),
                data,
                stream=LOGS_STREAM,
                headers={"Nats-Msg-Id": secrets.token_hex(16), CONTENT_TYPE_HEADER: MSGPACK},
            )

        async def stored() -> tuple[list[asyncpg.Record], list[asyncpg.Record]] | None:
            access = await fetch(
                database_url, "SELECT * FROM audit_access WHERE trace_id = $1", trace_id
            )
            steps = await fetch(
                database_url, "SELECT * FROM audit_task_steps WHERE trace_id = $1", trace_id
            )
            return (access, steps) if access and steps else None

        found = await eventually(stored, within_s=TIMEOUT_S)
        assert found is not None, "the batch was not stored"
        access, steps = found
        assert len(access) == 1
        assert len(steps) == 1
        row = access[0]
        assert row["key"].hex == batch.records[0].key
        assert row["response_status"] == 200
        assert msgspec.json.decode(row["request_body"]) == {"name": "cpu", "values": [1, 2]}
        assert steps[0]["error_message"] == "line 3: not a number"
        assert steps[0]["task_id"].hex == batch.records[1].task_id  # type: ignore[union-attr]

        # A LOGS message that is no LogBatch is set aside with its trace; the decision is a task.
        bad_trace = secrets.token_hex(16)
        await js.publish(
            logs_subject("task", "ingest"),
            b"\xc1not msgpack",
            stream=LOGS_STREAM,
            headers={"traceparent": f"00-{bad_trace}-{secrets.token_hex(8)}-01"},
        )

        async def letter_of_bad_trace() -> list[asyncpg.Record]:
            return await fetch(
                database_url, "SELECT * FROM audit_dead_letters WHERE trace_id = $1", bad_trace
            )

        (letter,) = await eventually(letter_of_bad_trace, within_s=TIMEOUT_S)
        assert letter["origin"] == logs_subject("task", "ingest")
        assert letter["reason"].startswith("undecodable log batch")
        assert bytes(letter["data"]) == b"\xc1not msgpack"
        assert letter["status"] == "pending"

        async def decision() -> list[asyncpg.Record]:
            return await fetch(
                database_url,
                "SELECT status, input_data, output_data FROM audit_task_steps"
                " WHERE trace_id = $1 AND task_name = 'deadletter_decision'"
                " ORDER BY execution_order",
                bad_trace,
            )

        steps = await eventually(lambda: _two(decision), within_s=TIMEOUT_S)
        assert [step["status"] for step in steps] == ["START", "SUCCESS"]
        decided = msgspec.json.decode(steps[0]["input_data"])
        assert decided["subject"] == logs_subject("task", "ingest")
        assert decided["reason"].startswith("undecodable log batch")

        # A dead letter delivered twice is stored once (its key: the message's hash).
        letter_trace = secrets.token_hex(16)
        dead = msgspec.msgpack.encode(
            DeadLetter(
                origin=subjects.INGEST_METRICS,
                reason="not a number",
                data=b'{"value": "x"}',
                headers={"traceparent": f"00-{letter_trace}-{secrets.token_hex(8)}-01"},
                received_at=datetime.now(UTC),
            )
        )
        for _ in range(2):
            await js.publish(
                subjects.deadletter_subject(subjects.INGEST_METRICS),
                dead,
                stream=subjects.DEADLETTER_STREAM,
                headers={"Nats-Msg-Id": secrets.token_hex(16)},
            )
        # ... and one that is not a DeadLetter at all is kept as it came.
        garbage_trace = secrets.token_hex(16)
        await js.publish(
            subjects.deadletter_subject("somewhere"),
            b"\x00\xffgarbage",
            stream=subjects.DEADLETTER_STREAM,
            headers={"traceparent": f"00-{garbage_trace}-{secrets.token_hex(8)}-01"},
        )

        async def letters() -> list[asyncpg.Record]:
            rows = await fetch(
                database_url,
                "SELECT * FROM audit_dead_letters WHERE trace_id = any($1::text[]) ORDER BY id",
                [letter_trace, garbage_trace],
            )
            return rows if len(rows) >= 2 else []

        stored_letters = await eventually(letters, within_s=TIMEOUT_S)
        assert await letters() == stored_letters  # nothing more arrived meanwhile
        by_trace = {row["trace_id"]: row for row in stored_letters}
        assert len(stored_letters) == 2
        kept = by_trace[letter_trace]
        assert bytes(kept["key"]) == hashlib.blake2b(dead, digest_size=16).digest()
        assert kept["origin"] == subjects.INGEST_METRICS
        assert bytes(kept["data"]) == b'{"value": "x"}'
        assert kept["reason"] == "not a number"
        garbage = by_trace[garbage_trace]
        assert garbage["reason"] == "undecodable dead letter"
        assert garbage["origin"] == subjects.deadletter_subject("somewhere")
        assert bytes(garbage["data"]) == b"\x00\xffgarbage"
    finally:
        await nc.close()


async def _two(query: Any) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await query()
    return rows if len(rows) >= 2 else []


async def test_retention_deletes_old_rows_in_batches_and_logs_a_step_per_table(
    make_stack: Any, database_url: str
) -> None:
    stack: PulseStack = make_stack(
        PULSE_AUDIT_RETENTION_INTERVAL_S="1",
        PULSE_AUDIT_RETENTION_S=str(7 * 24 * 3600),
        PULSE_AUDIT_DEADLETTER_RETENTION_S=str(7 * 24 * 3600),
        PULSE_AUDIT_RETENTION_BATCH_ROWS="2",
    )
    stack.start(["persistence"])  # migrates
    old = datetime.now(UTC) - timedelta(days=8)
    recent = datetime.now(UTC) - timedelta(days=6)
    conn = await asyncpg.connect(database_url)
    try:
        for created_at, count in ((old, 5), (recent, 1)):
            for _ in range(count):
                await conn.execute(
                    "INSERT INTO audit_access (key, created_at, trace_id, service, method, route,"
                    " path, request_header, response_status, duration_ms)"
                    " VALUES ($1, $2, 'old', 'gateway', 'GET', '/', '/', '{}', 200, 1)",
                    new_key(),
                    created_at,
                )
                await conn.execute(
                    "INSERT INTO audit_task_steps (key, created_at, trace_id, service, task_id,"
                    " task_name, step_name, status, execution_order)"
                    " VALUES ($1, $2, 'old', 'ingest', $3, 'old_task', 'step', 'SUCCESS', 1)",
                    new_key(),
                    created_at,
                    new_key(),
                )
        letters = (
            ("discarded", old, "discarded_at"),  # resolved long ago: deleted
            ("replayed", old, "replayed_at"),  # resolved long ago: deleted
            ("discarded", recent, "discarded_at"),  # resolved lately: kept
            ("pending", old, None),  # nobody decided yet: kept however old
        )
        for status, at, column in letters:
            resolved = f", {column}" if column else ""
            await conn.execute(
                "INSERT INTO audit_dead_letters (key, origin, reason, data, received_at,"
                f" stored_at, status{resolved}) VALUES ($1, 'ingest.metrics', 'old', '\\x00',"
                f" $2, $2, $3{', $2' if column else ''})",
                secrets.token_bytes(16),
                at,
                status,
            )

        timescale = await on_timescaledb(conn)
        if timescale:
            # The hypertables' chunks are TimescaleDB's to drop, by its retention policy: run
            # its jobs now rather than wait for their schedule.
            for job_id in await conn.fetch(
                "SELECT job_id FROM timescaledb_information.jobs"
                " WHERE proc_name = 'policy_retention'"
                " AND hypertable_name IN ('audit_access', 'audit_task_steps')"
            ):
                await conn.execute("CALL run_job($1)", job_id["job_id"])

        async def left() -> tuple[int, int, list[str]] | None:
            access = await conn.fetchval("SELECT count(*) FROM audit_access WHERE trace_id = 'old'")
            steps = await conn.fetchval(
                "SELECT count(*) FROM audit_task_steps WHERE task_name = 'old_task'"
            )
            statuses = [
                row["status"]
                for row in await conn.fetch(
                    "SELECT status FROM audit_dead_letters WHERE reason = 'old' ORDER BY status"
                )
            ]
            return (
                (access, steps, statuses) if (access, steps, len(statuses)) == (1, 1, 2) else None
            )

        remaining = await eventually(left, within_s=TIMEOUT_S)
        assert remaining == (1, 1, ["discarded", "pending"])

        if timescale:
            # Only the dead letters are the task's to delete: a run has a step for them alone.
            expected = [
                ("audit_retention", "START"),
                ("audit_dead_letters", "SUCCESS"),
                ("audit_retention", "SUCCESS"),
            ]
            deleting = "audit_dead_letters"
            counts = [2, 2]
        else:
            expected = [
                ("audit_retention", "START"),
                ("audit_access", "SUCCESS"),
                ("audit_task_steps", "SUCCESS"),
                ("audit_dead_letters", "SUCCESS"),
                ("audit_retention", "SUCCESS"),
            ]
            deleting = "audit_access"
            counts = [5, 5, 2, 12]

        async def deleting_run() -> list[asyncpg.Record]:
            rows = await conn.fetch(
                "SELECT step_name, status, output_data, execution_order FROM audit_task_steps"
                " WHERE task_id = (SELECT task_id FROM audit_task_steps"
                "   WHERE task_name = 'audit_retention' AND step_name = $1"
                "   AND (output_data->>'rows_deleted')::int > 0 LIMIT 1)"
                " ORDER BY execution_order",
                deleting,
            )
            return list(rows) if len(rows) == len(expected) else []

        run = await eventually(deleting_run, within_s=TIMEOUT_S)
        assert [(row["step_name"], row["status"]) for row in run] == expected
        assert run[0]["output_data"] is None
        deleted = [msgspec.json.decode(row["output_data"])["rows_deleted"] for row in run[1:]]
        assert deleted == counts
    finally:
        await conn.close()


async def on_timescaledb(conn: asyncpg.Connection) -> bool:
    """Whether the test database has TimescaleDB (its audit tables are then hypertables)."""
    return bool(
        await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
    )
