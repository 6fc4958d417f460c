"""Notebook events end to end: a producer's events over HTTP and NATS, through ingest and the
EVENTS stream, into persistence's classroom tables, each event stored exactly once (retries,
the same batch over both paths, redeliveries, persistence killed mid-stream)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import nats
import pytest
from pulse_contracts import MSGPACK, Codec, subjects
from pulse_contracts.classroom import ClassEvents, NotebookEvent

from tests.support.stack import PulseStack, bearer, class_rows, create_class_key, eventually

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
NOTEBOOK = "week1/intro.ipynb"


def executed(student: str, cell: int, seconds: float, **more: Any) -> dict[str, Any]:
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": "cell_executed",
        "eventTime": (T0 + timedelta(seconds=seconds)).isoformat(),
        "userId": student,
        "notebookPath": NOTEBOOK,
        "cellId": f"cell-{cell}",
        "cellIndex": cell,
        "cellType": "code",
        "executionCount": 1,
        "executionDurationMs": 4.0,
        **more,
    }


async def fetch(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def stored(database_url: str, class_id: str, at_least: int) -> int:
    async def enough() -> int:
        total = await class_rows(database_url, "class_events", class_id)
        return total if total >= at_least else 0

    return await eventually(enough, within_s=30) or await class_rows(
        database_url, "class_events", class_id
    )


async def settle(database_url: str, class_id: str, marker_seconds: float) -> None:
    """Wait until a marker event sent last is stored: everything before it is too (one
    ingest, one stream, one consumer in order)."""
    rows = await eventually(
        lambda: fetch(
            database_url,
            "SELECT 1 FROM class_events WHERE class_id = $1 AND event_time = $2",
            class_id,
            T0 + timedelta(seconds=marker_seconds),
        ),
        within_s=30,
    )
    assert rows, "the marker event was never stored"


async def test_http_events_are_stored_once_with_every_refusal_answered(
    make_stack: Any, database_url: str
) -> None:
    stack: PulseStack = make_stack(
        PULSE_INGEST_MAX_BODY_BYTES=str(256 * 1024), PULSE_INGEST_CLASS_SETTINGS_CACHE_S="0"
    )
    stack.start(["persistence", "auth", "ingest"])
    key = await create_class_key(stack, "py101")
    no_class = await create_class_key(stack, None)
    metrics_only = await create_class_key(stack, "py101", scopes=("ingest:metrics",))
    url, settings_url = (
        stack["ingest"].url("/api/v1/events"),
        stack["ingest"].url("/api/v1/events/settings"),
    )
    batch = [
        executed("ada", 0, 1, code="x = 1"),
        executed("ada", 1, 2, hasError=True, errorName="NameError", errorMessage="y"),
        {**executed("bo", 0, 3), "eventType": "widget_clicked", "metadata": {"w": 1}},
    ]
    async with httpx.AsyncClient() as client:
        unknown_class = await client.get(settings_url, headers=bearer(key))
        assert (unknown_class.status_code, unknown_class.json()["code"]) == (
            404,
            "class_not_found",
        )
        accepted = await client.post(url, json=batch, headers=bearer(key))
        assert (accepted.status_code, accepted.json()) == (202, {"accepted": 3})
        again = await client.post(url, json=batch, headers=bearer(key))  # a producer's retry
        assert (again.status_code, again.json()) == (202, {"accepted": 3})
        one = await client.post(
            url,
            content=msgspec.msgpack.encode(executed("bo", 1, 9)),
            headers={**bearer(key), "content-type": MSGPACK},
        )
        assert (one.status_code, one.json()) == (202, {"accepted": 1})

        refusals = {
            "no key": await client.post(url, json=batch),
            "unknown key": await client.post(url, json=batch, headers=bearer("pk_0_nope")),
            "no scope": await client.post(url, json=batch, headers=bearer(metrics_only)),
            "no class": await client.post(url, json=batch, headers=bearer(no_class)),
            "no class settings": await client.get(settings_url, headers=bearer(no_class)),
            "empty": await client.post(url, json=[], headers=bearer(key)),
            "101 events": await client.post(
                url, json=[executed("c", 0, i) for i in range(101)], headers=bearer(key)
            ),
            "bytes": await client.post(
                url,
                json=executed("c", 0, 0, metadata={"pad": "x" * 300_000}),
                headers=bearer(key),
            ),
        }
        codes = {name: (r.status_code, r.json()["code"]) for name, r in refusals.items()}
        assert codes == {
            "no key": (401, "unauthorized"),
            "unknown key": (401, "invalid_api_key"),
            "no scope": (403, "forbidden"),
            "no class": (403, "no_class"),
            "no class settings": (403, "no_class"),
            "empty": (400, "invalid_events"),
            "101 events": (413, "too_many_events"),
            "bytes": (413, "payload_too_large"),
        }
        wrong_class = await client.post(
            url,
            json=[executed("c", 0, 0), executed("c", 1, 1, classId="chem-2")],
            headers=bearer(key),
        )
        assert wrong_class.status_code == 400
        assert wrong_class.json() == {
            "code": "invalid_events",
            "message": "event 1: classId must be the API key's class 'py101', not 'chem-2'",
            "errors": [
                {
                    "index": 1,
                    "field": "classId",
                    "reason": "must be the API key's class 'py101', not 'chem-2'",
                }
            ],
        }
        bad_items = await client.post(
            url,
            json=[executed("c", 0, 0, eventId="nope"), executed("c", 0, 0, cellIndex=None)],
            headers=bearer(key),
        )
        assert bad_items.status_code == 400
        assert bad_items.json()["errors"] == [
            {"index": 0, "field": "eventId", "reason": "Invalid UUID"}
        ]

        await settle(database_url, "py101", 9)
        settings = await client.get(settings_url, headers=bearer(key))  # created on first sight
        assert (settings.status_code, settings.json()) == (
            200,
            {"classId": "py101", "collectCode": False, "pseudonymise": False, "salt": None},
        )
    counts = {
        table: await class_rows(database_url, table, "py101")
        for table in ("class_events", "class_event_ids", "cell_executions", "cell_states")
    }
    assert counts == {
        "class_events": 4,
        "class_event_ids": 4,
        "cell_executions": 3,
        "cell_states": 3,
    }
    states = await fetch(
        database_url,
        "SELECT student_id, cell_index, runs, errors, last_succeeded FROM cell_states"
        " ORDER BY student_id, cell_index",
    )
    assert [tuple(row) for row in states] == [
        ("ada", 0, 1, 0, True),
        ("ada", 1, 1, 1, False),
        ("bo", 1, 1, 0, True),
    ]
    attributes = await fetch(
        database_url, "SELECT attributes FROM class_events ORDER BY event_time"
    )
    first = json.loads(attributes[0]["attributes"])
    assert first["classId"] == "py101"
    assert "code" not in first  # the class does not collect code: ingest dropped it
    raw = json.loads(attributes[2]["attributes"])
    assert (raw["eventType"], raw["metadata"]) == ("widget_clicked", {"w": 1})
    nc = await nats.connect(stack.nats_url)
    try:
        info = await nc.jetstream().stream_info(subjects.EVENTS_STREAM)
    finally:
        await nc.drain()
    assert info.state.messages == 2  # the retry was dropped by JetStream already

    # A class that collects code keeps it.
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE classes SET collect_code = true WHERE id = 'py101'")
    finally:
        await conn.close()
    async with httpx.AsyncClient() as client:
        kept = await client.post(url, json=executed("di", 0, 20, code="y = 2"), headers=bearer(key))
        assert kept.status_code == 202
    await settle(database_url, "py101", 20)
    rows = await fetch(database_url, "SELECT attributes FROM class_events WHERE student_id = 'di'")
    assert json.loads(rows[0]["attributes"])["code"] == "y = 2"


async def test_nats_events_and_the_same_batch_over_http_are_stored_once(
    make_stack: Any, database_url: str
) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "ingest"])
    key = await create_class_key(stack, "py101")
    batch = [executed("ada", i, i, classId="py101") for i in range(5)]
    codec = Codec()
    nc = await nats.connect(stack.nats_url)
    try:
        reply = await nc.request(
            subjects.INGEST_EVENTS,
            msgspec.msgpack.encode(batch),
            headers={"Content-Type": MSGPACK},
            timeout=10,
        )
        assert json.loads(reply.data) == {"accepted": 5}
        reply = await nc.request(subjects.INGEST_EVENTS, json.dumps(batch[0]).encode(), timeout=10)
        assert json.loads(reply.data) == {"accepted": 1}
        no_class = executed("bo", 0, 0)
        refused = await nc.request(
            subjects.INGEST_EVENTS, json.dumps([no_class]).encode(), timeout=10
        )
        reason = "event 0: classId is required on NATS (the class the event belongs to)"
        assert json.loads(refused.data) == {"error": reason}
        sub = await nc.jetstream().pull_subscribe("deadletter.>", stream="DEADLETTER")
        [letter] = [codec.deadletter.decode(m.data) for m in await sub.fetch(1, timeout=10)]
        assert (letter.origin, letter.reason) == (subjects.INGEST_EVENTS, reason)
        assert json.loads(letter.data) == [no_class]
    finally:
        await nc.drain()
    async with httpx.AsyncClient() as client:
        over_http = await client.post(
            stack["ingest"].url("/api/v1/events"), json=batch, headers=bearer(key)
        )
        assert (over_http.status_code, over_http.json()) == (202, {"accepted": 5})
        marker = await client.post(
            stack["ingest"].url("/api/v1/events"),
            json=executed("zed", 0, 60),
            headers=bearer(key),
        )
        assert marker.status_code == 202
    await settle(database_url, "py101", 60)
    assert await class_rows(database_url, "class_events", "py101") == 6
    assert await class_rows(database_url, "cell_executions", "py101") == 6


async def test_redelivered_and_republished_events_are_stored_once_and_poison_set_aside(
    make_stack: Any, database_url: str
) -> None:
    stack: PulseStack = make_stack(PULSE_PERSISTENCE_BATCH_SIZE="10")
    stack.start(["persistence"])
    codec = Codec()
    events = [
        msgspec.convert(executed("ada", i, i, classId="py101"), NotebookEvent) for i in range(3)
    ]
    payload = codec.pack(ClassEvents(class_id="py101", events=events))
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        # No Nats-Msg-Id: as a copy arriving after the duplicate window, or a redelivery.
        await js.publish(subjects.events_subject("py101"), payload)
        await js.publish(subjects.events_subject("py101"), payload)
        await js.publish(subjects.events_subject("py101"), b"\xc1 not msgpack")
        await js.publish(
            subjects.events_subject("py101"),
            codec.pack(ClassEvents(class_id="chem-2", events=events[:1])),
        )
        await js.publish(
            subjects.events_subject("py101"),
            codec.pack(ClassEvents(class_id="py101", events=[events[0]])),
        )
        sub = await js.pull_subscribe("deadletter.>", stream="DEADLETTER")
        letters: list[Any] = []
        while len(letters) < 2:
            letters += [codec.deadletter.decode(m.data) for m in await sub.fetch(2, timeout=10)]
    finally:
        await nc.drain()
    assert sorted(letter.reason.split(":")[0] for letter in letters) == [
        "class events naming another class",
        "undecodable class events",
    ]
    await stored(database_url, "py101", 3)
    await asyncio.sleep(1)  # the later copies had their chance
    assert await class_rows(database_url, "class_events", "py101") == 3
    runs = await fetch(database_url, "SELECT sum(runs) AS runs FROM cell_states")
    assert runs[0]["runs"] == 3


MESSAGES = 300
EVENTS_PER_MESSAGE = 10


async def test_persistence_sigkilled_mid_stream_stores_every_event_exactly_once(
    make_stack: Any, database_url: str
) -> None:
    stack: PulseStack = make_stack(
        PULSE_PERSISTENCE_ACK_WAIT_S="2", PULSE_PERSISTENCE_BATCH_SIZE="20"
    )
    stack.start(["persistence", "ingest"])
    nc = await nats.connect(stack.nats_url)
    killed_at: int | None = None
    sent = 0
    try:
        for index in range(MESSAGES):
            batch = [
                executed(f"s{k}", index % 40, index * EVENTS_PER_MESSAGE + k, classId="crash")
                for k in range(EVENTS_PER_MESSAGE)
            ]
            reply = await nc.request(subjects.INGEST_EVENTS, json.dumps(batch).encode(), timeout=10)
            assert json.loads(reply.data) == {"accepted": EVENTS_PER_MESSAGE}
            sent += EVENTS_PER_MESSAGE
            if index == MESSAGES // 2:
                await eventually(lambda: class_rows(database_url, "class_events", "crash"))
                stack["persistence"].kill()
                killed_at = await class_rows(database_url, "class_events", "crash")
            if index % 25 == 0:
                await asyncio.sleep(0.02)
    finally:
        await nc.drain()
    assert killed_at is not None
    assert 0 < killed_at < sent, "the kill was not mid-stream"
    stack["persistence"].start()
    stack["persistence"].wait_ready()
    assert await stored(database_url, "crash", sent) == sent
    await asyncio.sleep(1)
    for table in ("class_events", "class_event_ids", "cell_executions"):
        assert await class_rows(database_url, table, "crash") == sent, table
    totals = await fetch(
        database_url, "SELECT sum(runs) AS runs, count(*) AS cells FROM cell_states"
    )
    assert (totals[0]["runs"], totals[0]["cells"]) == (sent, EVENTS_PER_MESSAGE * 40)
