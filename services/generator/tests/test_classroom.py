"""The class simulator: human pace that visibly advances in the first minute, errors where the
hard cells are, retries after an error, determinism, and events a real producer would send."""

from __future__ import annotations

import itertools
import random
import statistics
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from prometheus_client import CollectorRegistry
from pulse_contracts import CONTENT_TYPE_HEADER, JSON
from pulse_contracts.classroom import NotebookEvent, ProducerEvents
from pulse_generator.classroom import ClassPublisher, ClassSimulator
from pulse_generator.settings import Settings
from pulse_runtime.telemetry import counter
from pulse_runtime.tracing import TRACEPARENT

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def a_class(
    seed: int = 1, students: int = 25, cells: int = 30, speed: float = 1.0
) -> ClassSimulator:
    return ClassSimulator(
        class_id="demo",
        students=students,
        cells=cells,
        speed=speed,
        started_at=START,
        rng=random.Random(seed),
    )


def furthest_cells(events: list[dict[str, Any]]) -> dict[str, int]:
    furthest: dict[str, int] = {}
    for event in events:
        if event["eventType"] == "cell_executed" and not event["hasError"]:
            user = event["userId"]
            furthest[user] = max(furthest.get(user, -1), event["cellIndex"])
    return furthest


def simulator_events_until(events: list[dict[str, Any]], seconds: float) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if (datetime.fromisoformat(e["eventTime"]) - START).total_seconds() <= seconds
    ]


def test_every_student_opens_the_notebook_and_the_class_advances_in_the_first_minute() -> None:
    default_speed = Settings.from_environ({}).generator.class_speed
    events = a_class(speed=default_speed).advance(60)

    opened = {e["userId"] for e in events if e["eventType"] == "notebook_opened"}
    assert len(opened) == 25
    reached = furthest_cells(events)
    assert len(reached) >= 20  # nearly everyone has run a cell
    assert statistics.median(reached.values()) >= 1


def test_the_pace_is_human_seconds_to_a_minute_per_cell() -> None:
    simulator = a_class(students=40)
    events = simulator.advance(3600)

    gaps = []
    last: dict[str, datetime] = {}
    for event in events:
        if event["eventType"] != "cell_executed":
            continue
        at = datetime.fromisoformat(event["eventTime"])
        if event["userId"] in last:
            gaps.append((at - last[event["userId"]]).total_seconds())
        last[event["userId"]] = at
    assert 5 <= statistics.median(gaps) <= 60
    reached = sorted(furthest_cells(simulator_events_until(events, 900)).values())
    assert reached[0] + 5 < reached[-1]  # some faster, some slower


def test_a_faster_class_advances_further_in_the_same_time() -> None:
    slow = furthest_cells(a_class(speed=1.0).advance(300))
    fast = furthest_cells(a_class(speed=4.0).advance(300))

    assert statistics.median(fast.values()) > statistics.median(slow.values())


def test_errors_come_mostly_from_the_hard_cells_with_realistic_names() -> None:
    simulator = a_class(students=60)
    events = simulator.advance(4 * 3600)
    hard = set(simulator.notebook.hard_cells)

    errors = [e for e in events if e["eventType"] == "cell_executed" and e["hasError"]]
    runs = Counter(e["cellIndex"] for e in events if e["eventType"] == "cell_executed")
    failed = Counter(e["cellIndex"] for e in errors)
    hard_rate = sum(failed[i] for i in hard) / sum(runs[i] for i in hard)
    easy_rate = sum(failed[i] for i in runs if i not in hard) / sum(
        runs[i] for i in runs if i not in hard
    )
    assert 3 <= len(hard) <= 6
    assert hard_rate > 4 * easy_rate
    assert {e["errorName"] for e in errors} <= {
        "NameError",
        "TypeError",
        "ValueError",
        "KeyError",
        "IndexError",
        "ZeroDivisionError",
        "AttributeError",
        "SyntaxError",
    }
    assert all(e["errorMessage"] for e in errors)


def test_a_student_retries_the_cell_that_failed() -> None:
    events = a_class(students=30).advance(3600)

    by_student: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event["eventType"] == "cell_executed":
            by_student.setdefault(event["userId"], []).append(event)
    retried = 0
    for runs in by_student.values():
        for run, following in itertools.pairwise(runs):
            if run["hasError"]:
                assert following["cellIndex"] in (run["cellIndex"], 0)  # same cell, or restarted
                retried += following["cellIndex"] == run["cellIndex"]
    assert retried > 10


def test_kernels_are_restarted_now_and_then_resetting_the_execution_count() -> None:
    events = a_class(students=40).advance(2 * 3600)

    restarts = [e for e in events if e["eventType"] == "kernel_restarted"]
    assert restarts
    student = restarts[0]["userId"]
    after = [
        e
        for e in events
        if e["userId"] == student
        and e["eventType"] == "cell_executed"
        and e["eventTime"] > restarts[0]["eventTime"]
    ]
    assert after[0]["executionCount"] == 1


def test_the_same_seed_gives_the_same_class_ids_included() -> None:
    first, second = a_class(seed=7), a_class(seed=7)
    steps = [0.5 * n for n in range(1, 400)]

    assert [first.advance(t) for t in steps] == [second.advance(t) for t in steps]
    assert a_class(seed=8).advance(120) != a_class(seed=7).advance(120)


def test_the_events_are_what_a_producer_sends_on_nats() -> None:
    events = a_class().advance(600)
    body = msgspec.json.encode(events[:100])

    decoded = msgspec.json.decode(body, type=ProducerEvents)

    assert isinstance(decoded, list)
    assert len({e.event_id for e in decoded}) == len(decoded)
    for event in decoded:
        assert isinstance(event, NotebookEvent)
        assert event.class_id == "demo"
        assert event.event_time.tzinfo is not None
        if event.event_type == "cell_executed":
            assert event.notebook_path
            assert event.cell_id
            assert event.cell_index is not None
            assert event.cell_type == "code"
            assert event.code is None  # the simulated class does not collect code


async def test_the_publisher_sends_batches_of_at_most_100_with_a_traceparent() -> None:
    sent: list[tuple[bytes, dict[str, str]]] = []

    async def publish(body: bytes, headers: dict[str, str]) -> None:
        sent.append((body, headers))

    published = counter(CollectorRegistry(), "events_total", "test")
    publisher = ClassPublisher(a_class(students=200, speed=20), publish, published)

    count = await publisher.publish_due(120)

    assert count > 100
    assert published._value.get() == count
    sizes = [len(msgspec.json.decode(body, type=ProducerEvents)) for body, _ in sent]
    assert max(sizes) <= 100
    assert sum(sizes) == count
    for _, headers in sent:
        assert headers[CONTENT_TYPE_HEADER] == JSON
        assert headers[TRACEPARENT].startswith("00-")


def test_the_class_settings_and_their_defaults() -> None:
    own = Settings.from_environ({}).generator
    assert (own.class_students, own.class_cells, own.class_id, own.class_speed) == (
        25,
        30,
        "demo",
        2.0,
    )
    off = Settings.from_environ({"PULSE_GENERATOR_CLASS_STUDENTS": "0"}).generator
    assert off.class_students == 0
    with pytest.raises(Exception, match="PULSE_GENERATOR_CLASS_ID"):
        Settings.from_environ({"PULSE_GENERATOR_CLASS_ID": "Not A Slug"})
