"""The events writer and the producer settings verb against a real PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry
from pulse_contracts import Codec, RpcError
from pulse_contracts.classroom import (
    ClassEvents,
    GetProducerSettings,
    NotebookEvent,
    ProducerSettings,
    ProducerSettingsReply,
)
from pulse_persistence.classroom.event_batches import ClassEventBatches
from pulse_persistence.classroom.settings_verb import producer_settings
from pulse_persistence.classroom.writer import EventsWriter, TracedEvents
from pulse_persistence.schema import migrate, prepare_connection
from pulse_runtime.database import create_pool

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 5, 9, tzinfo=UTC)
NOTEBOOK = "week1/intro.ipynb"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=4, init=prepare_connection)
    async with pool.acquire() as conn:
        await migrate(conn)
    yield pool
    await pool.close()


def run(
    student: str, cell: int, seconds: int, *, error: bool = False, **more: Any
) -> NotebookEvent:
    return NotebookEvent(
        event_id=uuid.uuid4(),
        event_type="cell_executed",
        event_time=T0 + timedelta(seconds=seconds),
        user_id=student,
        class_id="py101",
        notebook_path=NOTEBOOK,
        cell_id=f"cell-{cell}",
        cell_index=cell,
        cell_type="code",
        has_error=error,
        error_name="NameError" if error else None,
        execution_duration_ms=12.5,
        execution_count=seconds,
        **more,
    )


def batch(*events: NotebookEvent, class_id: str = "py101") -> ClassEvents:
    return ClassEvents(class_id=class_id, events=list(events))


async def count(pool: asyncpg.Pool, table: str) -> int:
    total: int = await pool.fetchval(f"SELECT count(*) FROM {table}")
    return total


async def test_an_event_is_stored_once_however_often_it_comes(pool: asyncpg.Pool) -> None:
    writer = EventsWriter(pool)
    first, second = run("ada", 0, 0), run("ada", 1, 5, error=True)
    assert await writer.write([batch(first, second)]) == 2
    assert await writer.write([batch(first, second)]) == 0  # a redelivery
    assert await EventsWriter(pool).write([batch(second), batch(second, first)]) == 0
    assert await writer.write([batch(first, run("ada", 1, 9))]) == 1
    for table, rows in {
        "class_event_ids": 3,
        "class_events": 3,
        "cell_executions": 3,
        "cell_states": 2,
        "class_cells": 2,
        "class_students": 1,
        "class_notebooks": 1,
    }.items():
        assert await count(pool, table) == rows, table
    state = await pool.fetchrow(
        "SELECT runs, errors, last_succeeded FROM cell_states WHERE cell_index = 1"
    )
    assert dict(state) == {"runs": 2, "errors": 1, "last_succeeded": True}
    assert await pool.fetchval("SELECT events FROM class_notebooks") == 3


async def test_the_latest_state_is_by_event_time_whatever_the_arrival_order(
    pool: asyncpg.Pool,
) -> None:
    writer = EventsWriter(pool)
    # The failure happened last but arrives first, then the earlier success, then an
    # earlier failure within one batch with a later success.
    await writer.write([batch(run("bo", 2, 30, error=True))])
    await writer.write([batch(run("bo", 2, 10))])
    state = await pool.fetchrow("SELECT * FROM cell_states")
    assert (state["runs"], state["errors"], state["last_succeeded"]) == (2, 1, False)
    assert (state["first_run_at"], state["last_run_at"]) == (
        T0 + timedelta(seconds=10),
        T0 + timedelta(seconds=30),
    )
    await writer.write([batch(run("bo", 2, 40), run("bo", 2, 20, error=True))])
    state = await pool.fetchrow("SELECT * FROM cell_states")
    assert (state["runs"], state["errors"], state["last_succeeded"]) == (4, 2, True)
    student = await pool.fetchrow("SELECT first_seen, last_activity FROM class_students")
    assert tuple(student) == (T0 + timedelta(seconds=10), T0 + timedelta(seconds=40))


async def test_raw_attributes_and_unknown_types_are_stored_as_sent(pool: asyncpg.Pool) -> None:
    writer = EventsWriter(pool)
    odd = NotebookEvent(
        event_id=uuid.uuid4(),
        event_type="widget_clicked",
        event_time=T0,
        user_id="cy",
        class_id="py101",
        notebook_path="other.ipynb",
        metadata={"button": "run all", "n": 3},
    )
    executed = run("cy", 0, 1, code="print('hi')")
    assert await writer.write([batch(odd, executed)]) == 2
    rows = await pool.fetch("SELECT event_type, attributes FROM class_events ORDER BY event_time")
    assert [row["event_type"] for row in rows] == ["widget_clicked", "cell_executed"]
    assert json.loads(rows[0]["attributes"]) == {
        "eventId": str(odd.event_id),
        "eventType": "widget_clicked",
        "eventTime": "2026-12-05T09:00:00Z",
        "userId": "cy",
        "classId": "py101",
        "notebookPath": "other.ipynb",
        "metadata": {"button": "run all", "n": 3},
    }
    assert json.loads(rows[1]["attributes"])["code"] == "print('hi')"
    # Stored raw: in the history, not in the class model.
    paths = [row[0] for row in await pool.fetch("SELECT notebook_path FROM class_notebooks")]
    assert paths == [NOTEBOOK]
    assert await count(pool, "cell_executions") == 1


async def test_a_class_first_seen_in_events_is_created_without_owner(pool: asyncpg.Pool) -> None:
    writer = EventsWriter(pool)
    await writer.write([batch(run("di", 0, 0)), batch(run("di", 0, 0), class_id="py101")])
    event = NotebookEvent(
        event_id=uuid.uuid4(),
        event_type="notebook_opened",
        event_time=T0,
        user_id="ed",
        class_id="chem-2",
    )
    await writer.write([batch(event, class_id="chem-2")])
    rows = await pool.fetch("SELECT id, title, owner_id, salt FROM classes ORDER BY id")
    assert [(row["id"], row["title"], row["owner_id"]) for row in rows] == [
        ("chem-2", "chem-2", None),
        ("py101", "py101", None),
    ]
    assert len({row["salt"] for row in rows}) == 2
    assert all(len(row["salt"]) == 32 for row in rows)


async def test_producer_settings_of_a_class(pool: asyncpg.Pool) -> None:
    missing = await producer_settings(pool, GetProducerSettings(class_id="nope"))
    assert missing == RpcError(code="class_not_found", message="no class 'nope'")
    await pool.execute(
        "INSERT INTO classes (id, title, collect_code, pseudonymise, salt)"
        " VALUES ('open', 'Open', true, false, 's1'), ('private', 'P', false, true, 's2')"
    )
    assert await producer_settings(pool, GetProducerSettings(class_id="open")) == (
        ProducerSettingsReply(
            settings=ProducerSettings(class_id="open", collect_code=True, pseudonymise=False)
        )
    )
    assert await producer_settings(pool, GetProducerSettings(class_id="private")) == (
        ProducerSettingsReply(
            settings=ProducerSettings(
                class_id="private", collect_code=False, pseudonymise=True, salt="s2"
            )
        )
    )


async def test_each_event_keeps_the_trace_id_of_the_message_that_brought_it(
    pool: asyncpg.Pool,
) -> None:
    traced = ClassEventBatches(EventsWriter(pool), CollectorRegistry())
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    first, second, untraced = run("ada", 0, 0), run("ada", 1, 5), run("bob", 0, 7)
    message = Msg(
        None,  # type: ignore[arg-type]
        subject="events.py101",
        data=Codec().pack(batch(first, second)),
        headers={"traceparent": f"00-{trace}-00f067aa0ba902b7-01"},
    )
    decoded = traced.decode(message)
    assert decoded.trace_id == trace
    await traced.write([decoded, TracedEvents(batch(untraced))])
    rows = await pool.fetch("SELECT event_id, trace_id FROM class_events")
    assert {row["event_id"]: row["trace_id"] for row in rows} == {
        first.event_id: trace,
        second.event_id: trace,
        untraced.event_id: None,
    }
