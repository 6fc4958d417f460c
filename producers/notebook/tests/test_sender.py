"""The sender against a real local HTTP server: batching, retries with backoff, the disk buffer
across an outage and a kernel restart, refusals, and what the class allows to leave."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import uuid
from pathlib import Path
from typing import Any

from pulse_notebook.events import cell_executed
from pulse_notebook.sender import backoff_delay

from .conftest import KEY, FakeIngest, SenderFactory


def an_event(
    number: int = 0, *, student: str = "ada@example.edu", code: str = "x = 1"
) -> dict[str, Any]:
    return cell_executed(
        student=student,
        notebook_path="week1.ipynb",
        cell_id=f"cell-{number}",
        cell_index=number,
        code=code,
        execution_count=number + 1,
        error=None,
        duration_ms=12.5,
        metadata={"producer": "test"},
    )


def spooled_ids(folder: Path) -> set[str]:
    ids = set()
    for file in folder.glob("*.jsonl"):
        for line in file.read_text().splitlines():
            ids.add(json.loads(line)["eventId"])
    return ids


def test_events_go_in_batches_of_at_most_100_each_once(
    ingest: FakeIngest, make_sender: SenderFactory
) -> None:
    sender = make_sender()
    events = [an_event(i) for i in range(250)]
    for event in events:
        sender.submit(event)

    accepted = ingest.wait_for(250)

    assert sorted(e["eventId"] for e in accepted) == sorted(e["eventId"] for e in events)
    assert max(len(batch) for batch in ingest.batches) <= 100
    assert len(ingest.batches) >= 3
    assert ingest.authorizations == {f"Bearer {KEY}"}


def test_a_few_events_leave_together_after_the_flush_interval(
    ingest: FakeIngest, make_sender: SenderFactory
) -> None:
    sender = make_sender(flush_interval_s=0.5)
    started = time.monotonic()
    for i in range(3):
        sender.submit(an_event(i))

    assert len(ingest.wait_for(3)) == 3
    assert len(ingest.batches) == 1
    assert ingest.post_times[0] - started >= 0.45


def test_5xx_and_429_are_retried_with_the_same_event_ids(
    ingest: FakeIngest, make_sender: SenderFactory
) -> None:
    ingest.answers = [
        (503, {}, {"code": "not_stored", "message": "try again"}),
        (500, {}, {"code": "internal", "message": "oops"}),
        (429, {"Retry-After": "1"}, {"code": "slow_down", "message": "later"}),
    ]
    sender = make_sender()
    events = [an_event(i) for i in range(5)]
    for event in events:
        sender.submit(event)

    accepted = ingest.wait_for(5)

    assert [e["eventId"] for e in accepted] == [e["eventId"] for e in events]
    assert len(ingest.batches) == 4
    assert all(batch == ingest.batches[0] for batch in ingest.batches)
    gaps = [b - a for a, b in zip(ingest.post_times, ingest.post_times[1:])]
    assert gaps[2] >= 0.95  # Retry-After: 1 was honoured
    assert len(sender.warnings) == 1  # type: ignore[attr-defined]  # one line per outage
    assert "HTTP 503" in sender.warnings[0]  # type: ignore[attr-defined]


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(n, 0.5, 60.0, rng) for n in range(1, 12)]

    for failures, delay in enumerate(delays, start=1):
        ceiling = min(60.0, 0.5 * 2 ** (failures - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)  # jittered


def test_events_wait_on_disk_while_pulse_is_down_and_arrive_when_it_returns(
    tmp_path: Path, ingest: FakeIngest, make_sender: SenderFactory
) -> None:
    port = ingest.port
    ingest.stop()
    folder = tmp_path / "spool"
    sender = make_sender(folder=folder)
    events = [an_event(i) for i in range(30)]
    for event in events:
        sender.submit(event)

    deadline = time.monotonic() + 5
    while spooled_ids(folder) != {e["eventId"] for e in events} and time.monotonic() < deadline:
        time.sleep(0.02)
    assert spooled_ids(folder) == {e["eventId"] for e in events}  # on disk, fsync'd
    while not sender.warnings and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.02)  # a send was tried and failed

    ingest.port = port
    ingest.start()
    accepted = ingest.wait_for(30)

    assert sorted(e["eventId"] for e in accepted) == sorted(e["eventId"] for e in events)
    assert len(accepted) == 30
    warnings = sender.warnings  # type: ignore[attr-defined]
    assert len(warnings) == 1
    assert "buffering on disk" in warnings[0]
    sender.close()
    assert spooled_ids(folder) == set()  # sent: the buffer is empty


def test_a_restarted_kernel_sends_what_the_previous_one_buffered(
    tmp_path: Path, ingest: FakeIngest, make_sender: SenderFactory
) -> None:
    folder = tmp_path / "spool"
    down = "http://127.0.0.1:9"  # nothing listens there: connection refused
    first = make_sender(folder=folder, url=down)
    events = [an_event(i) for i in range(12)]
    for event in events:
        first.submit(event)
    first.close()  # the kernel goes away with its events unsent
    assert spooled_ids(folder) == {e["eventId"] for e in events}

    make_sender(folder=folder)  # the next kernel, Pulse reachable again
    accepted = ingest.wait_for(12)

    assert sorted(e["eventId"] for e in accepted) == sorted(e["eventId"] for e in events)


def test_a_400_naming_bad_items_drops_only_those(
    ingest: FakeIngest, make_sender: SenderFactory
) -> None:
    ingest.answers = [
        (
            400,
            {},
            {
                "code": "invalid_events",
                "message": "2 bad events",
                "errors": [
                    {"index": 1, "field": "cellIndex", "reason": "must be >= 0"},
                    {"index": 3, "field": "eventTime", "reason": "needs a timezone"},
                ],
            },
        )
    ]
    sender = make_sender(flush_interval_s=0.3)
    events = [an_event(i) for i in range(5)]
    for event in events:
        sender.submit(event)

    accepted = ingest.wait_for(3)
    time.sleep(0.3)

    assert [e["eventId"] for e in accepted] == [events[i]["eventId"] for i in (0, 2, 4)]
    assert sender.refused == 2
    assert any("refused 2 events" in w for w in sender.warnings)  # type: ignore[attr-defined]


def test_a_4xx_that_names_no_item_drops_the_whole_batch(
    ingest: FakeIngest, make_sender: SenderFactory
) -> None:
    ingest.answers = [(413, {}, {"code": "payload_too_large", "message": "too big"})]
    sender = make_sender(flush_interval_s=0.3)
    for i in range(4):
        sender.submit(an_event(i))
    deadline = time.monotonic() + 5
    while sender.refused < 4 and time.monotonic() < deadline:
        time.sleep(0.02)

    later = an_event(99)
    sender.submit(later)
    accepted = ingest.wait_for(1)

    assert sender.refused == 4
    assert [e["eventId"] for e in accepted] == [later["eventId"]]
    assert "HTTP 413: payload_too_large" in sender.warnings[0]  # type: ignore[attr-defined]


def test_nothing_is_sent_before_the_class_settings_are_known(
    ingest: FakeIngest, make_sender: SenderFactory
) -> None:
    ingest.settings_status = 503
    sender = make_sender()
    sender.submit(an_event(0))
    time.sleep(0.6)

    assert ingest.settings_requests >= 2  # retried with backoff
    assert ingest.batches == []

    ingest.settings_status = 200
    assert len(ingest.wait_for(1)) == 1


def test_the_code_is_sent_only_when_the_class_collects_it(
    ingest: FakeIngest, make_sender: SenderFactory
) -> None:
    ingest.settings = {"classId": "demo", "collectCode": False, "pseudonymise": False}
    sender = make_sender()
    sender.submit(an_event(0, code="secret_answer = 42"))

    [sent] = ingest.wait_for(1)

    assert "code" not in sent
    assert sent["userId"] == "ada@example.edu"


def test_the_code_is_sent_when_the_class_collects_it(
    ingest: FakeIngest, make_sender: SenderFactory
) -> None:
    sender = make_sender()
    sender.submit(an_event(0, code="answer = 42"))

    [sent] = ingest.wait_for(1)

    assert sent["code"] == "answer = 42"


def test_a_pseudonymising_class_gets_the_hmac_of_the_student_id(
    ingest: FakeIngest, make_sender: SenderFactory
) -> None:
    salt = uuid.uuid4().hex
    ingest.settings = {"classId": "demo", "collectCode": False, "pseudonymise": True, "salt": salt}
    sender = make_sender()
    sender.submit(an_event(0, student="ada@example.edu"))
    sender.submit(an_event(1, student="ada@example.edu"))

    sent = ingest.wait_for(2)

    expected = hmac.new(salt.encode(), b"ada@example.edu", hashlib.sha256).digest()[:16].hex()
    assert [e["userId"] for e in sent] == [expected, expected]
    assert all("ada@example.edu" not in json.dumps(e) for e in sent)


def test_the_disk_buffer_is_bounded_dropping_the_oldest(
    tmp_path: Path, make_sender: SenderFactory
) -> None:
    folder = tmp_path / "spool"
    size = len(json.dumps(an_event(0))) + 1
    sender = make_sender(folder=folder, url="http://127.0.0.1:9", max_bytes=size * 10)
    events = [an_event(i) for i in range(25)]
    for event in events:
        sender.submit(event)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(
        "buffer is full" in w
        for w in sender.warnings  # type: ignore[attr-defined]
    ):
        time.sleep(0.02)
    sender.close()

    kept = spooled_ids(folder)
    assert len(kept) <= 10
    assert kept <= {e["eventId"] for e in events[-10:]}  # the newest are kept
