"""Notebook events persisted end to end: producer messages on ``ingest.events`` (NATS,
msgpack, 100 events each) to committed rows in the classroom tables, against the bare COPY
of the same rows into the same tables in the same run (the ceiling).

Real servers and processes (the harness of the integration tests): an embedded PostgreSQL
(or ``PULSE_BENCH_DATABASE_URL``) and nats-server, with persistence and ingest. Events/s is
measured from the first publish to the last commit (persistence's counter of new events),
then checked with an exact count. The ceiling copies the same number of rows with
``copy_records_to_table`` into ``class_event_ids``, ``class_events`` and ``cell_executions``
(the tables that get one row per event; the upserted students, cells and states are not in
it), in batches of one fetch's worth.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import nats

from bench.ingest import CONCURRENCY, CpuShare, _stack_processes
from bench.report import Progress, table, write
from bench.servers import bench_database
from tests.support.stack import PulseStack

CLASS_ID = "bench"
STUDENTS = 500
CELLS = 100
STORED_COUNTER = "pulse_persistence_events_stored_total"
COPY_BATCH = 10_000


def _event(i: int, base: datetime) -> dict[str, Any]:
    failed = i % 7 == 0
    return {
        "eventId": uuid.UUID(int=i + 1),
        "eventType": "cell_executed",
        "eventTime": base + timedelta(milliseconds=i),
        "userId": f"student-{i % STUDENTS:03d}",
        "classId": CLASS_ID,
        "notebookPath": "bench.ipynb",
        "cellId": f"cell-{(i // STUDENTS) % CELLS}",
        "cellIndex": (i // STUDENTS) % CELLS,
        "cellType": "code",
        "executionCount": i // STUDENTS + 1,
        "hasError": failed,
        "errorName": "ValueError" if failed else None,
        "errorMessage": "bad value" if failed else None,
        "executionDurationMs": float(i % 1000),
    }


def _messages(first: int, events: int, batch: int, base: datetime) -> list[bytes]:
    encode = msgspec.msgpack.Encoder().encode
    return [
        encode([_event(i, base) for i in range(start, min(first + events, start + batch))])
        for start in range(first, first + events, batch)
    ]


class Stored:
    """New events committed so far: persistence's own counter (a ``count(*)`` would load the
    database the benchmark measures)."""

    def __init__(self, port: int) -> None:
        self._port = port

    async def events(self) -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", self._port)
        try:
            writer.write(b"GET /metrics HTTP/1.0\r\nHost: bench\r\n\r\n")
            text = (await reader.read()).decode()
        finally:
            writer.close()
        for line in text.splitlines():
            if line.startswith(STORED_COUNTER + " "):
                return int(float(line.split()[1]))
        return 0


async def _send_all(messages: list[bytes], send: Any) -> None:
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(message: bytes) -> None:
        async with slots:
            await send(message)

    await asyncio.gather(*(one(m) for m in messages))


async def _until_stored(stored: Stored, target: int, progress: Progress | None = None) -> None:
    for _ in range(60_000):  # ten minutes at most
        done = await stored.events()
        if progress is not None:
            progress.update(done)
        if done >= target:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"only {await stored.events():,} of {target:,} events stored")


async def _counts(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        return {
            name: await conn.fetchval(f"SELECT count(*) FROM {name} WHERE class_id = $1", CLASS_ID)
            for name in ("class_event_ids", "class_events", "cell_executions")
        } | {"cell_states": await conn.fetchval("SELECT count(*) FROM cell_states")}
    finally:
        await conn.close()


async def _bare_copy(database_url: str, events: int, base: datetime) -> float:
    """The same rows with nothing in the way: COPY into the three one-row-per-event tables
    (emptied first, so their indexes are as small as the pipeline's were)."""
    rows = [_event(i, base) for i in range(events)]
    encode = msgspec.json.Encoder().encode
    ids = [(r["eventId"], CLASS_ID) for r in rows]
    raw = [
        (r["eventTime"], r["eventId"], CLASS_ID, r["eventType"], r["userId"], r["notebookPath"],
         r["cellIndex"], r["hasError"], encode(r).decode())
        for r in rows
    ]  # fmt: skip
    executions = [
        (r["eventTime"], r["eventId"], CLASS_ID, r["notebookPath"], r["cellIndex"], r["userId"],
         not r["hasError"], r["executionDurationMs"], r["errorName"], r["executionCount"])
        for r in rows
    ]  # fmt: skip
    conn = await asyncpg.connect(database_url)
    progress = Progress("bare COPY", events)
    try:
        await conn.execute("TRUNCATE class_event_ids, class_events, cell_executions")
        started = time.perf_counter()
        for first in range(0, events, COPY_BATCH):
            part = slice(first, first + COPY_BATCH)
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "class_event_ids", records=ids[part], columns=["event_id", "class_id"]
                )
                await conn.copy_records_to_table(
                    "class_events",
                    records=raw[part],
                    columns=["event_time", "event_id", "class_id", "event_type", "student_id",
                             "notebook_path", "cell_index", "has_error", "attributes"],
                )  # fmt: skip
                await conn.copy_records_to_table(
                    "cell_executions",
                    records=executions[part],
                    columns=["executed_at", "event_id", "class_id", "notebook_path",
                             "cell_index", "student_id", "succeeded", "duration_ms",
                             "error_name", "execution_count"],
                )  # fmt: skip
            progress.update(first + COPY_BATCH)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def measure_events(*, events: int, batch: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-events-"))
    database_url, postgres = await bench_database(work)
    stack = PulseStack(work / "stack", database_url, {"PULSE_LOG_LEVEL": "warning"})
    results: dict[str, Any] = {"events": events, "batch": batch, "concurrency": CONCURRENCY}
    base = datetime(2026, 12, 1, 9, tzinfo=UTC)
    try:
        stack.start(["persistence", "ingest"])
        stored = Stored(stack["persistence"].port)
        cpu = CpuShare(_stack_processes(stack))
        nc = await nats.connect(stack.nats_url)
        headers = {"Content-Type": "application/msgpack"}

        async def over_nats(message: bytes) -> None:
            reply = await nc.request("ingest.events", message, timeout=60, headers=headers)
            if b"accepted" not in reply.data:
                raise RuntimeError(reply.data.decode())

        warm_up = 10 * batch  # connections, prepared statements, the first fetch: not timed
        await _send_all(_messages(events, warm_up, batch, base), over_nats)
        await _until_stored(stored, warm_up)
        messages = _messages(0, events, batch, base)
        progress = Progress("NATS committed", events)
        cpu.start()
        started = time.perf_counter()
        sending = asyncio.create_task(_send_all(messages, over_nats))
        await _until_stored(stored, warm_up + events, progress)
        elapsed = time.perf_counter() - started
        cpu.stop()
        await sending
        await nc.drain()
        counts = await _counts(database_url)
        expected = events + warm_up
        if any(counts[name] != expected for name in ("class_event_ids", "class_events")):
            raise RuntimeError(f"stored {counts} for {expected:,} events sent")
        results["nats"] = {
            "seconds": round(elapsed, 3),
            "events_per_s": round(events / elapsed),
            "cpu_us_per_event": cpu.us_per_point(events),
        }
        results["stored"] = counts
    finally:
        stack.stop()
    bare = await _bare_copy(database_url, events, base)
    if postgres is not None:
        postgres.stop()
    results["bare_copy"] = {"seconds": round(bare, 3), "events_per_s": round(events / bare)}
    results["nats"]["ratio_to_bare_copy"] = round(
        results["nats"]["events_per_s"] / results["bare_copy"]["events_per_s"], 3
    )
    results["file"] = str(write("events", results))
    return results


async def run_events(*, events: int, batch: int) -> int:
    """``make bench ARGS="events …"``: measure, write bench/results, print the table."""
    print(f"events benchmark: {events:,} events in messages of {batch}, {CONCURRENCY} in flight")
    results = await measure_events(events=events, batch=batch)
    nats_path, bare = results["nats"], results["bare_copy"]
    table(
        [
            ("NATS -> committed", f"{nats_path['events_per_s']:,} events/s"),
            ("bare COPY (ceiling)", f"{bare['events_per_s']:,} events/s"),
            ("ratio", f"{nats_path['ratio_to_bare_copy']:.0%}"),
            ("CPU us/event", str(nats_path["cpu_us_per_event"])),
            ("results", results["file"]),
        ]
    )
    return 0
