"""A valid message JetStream did not store is never acknowledged, nor dead-lettered."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import nats.errors
import pytest
import structlog
from nats.aio.msg import Msg
from pulse_contracts import subjects
from pulse_ingest.app import IngestService
from pulse_ingest.settings import IngestSettings, Settings
from pulse_runtime.settings import CommonSettings

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


class Replies:
    """Stands in for the NATS client a message answers through."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, data: bytes, headers: Any = None) -> None:
        self.sent.append((subject, data))


class JetStream:
    """JetStream's publish into METRICS: stores, or fails for the series in ``failing``."""

    def __init__(self, failing: set[str]) -> None:
        self.failing = failing
        self.attempts: list[str] = []

    async def publish(self, subject: str, payload: bytes, **options: Any) -> None:
        self.attempts.append(subject)
        if subject in self.failing:
            raise nats.errors.TimeoutError


def service_with(jetstream: JetStream) -> IngestService:
    service = IngestService(Settings(common=CommonSettings(), ingest=IngestSettings()))
    service.jetstream = lambda: jetstream  # type: ignore[method-assign, assignment, return-value]
    return service


def request(replies: Replies, reply: str = "_INBOX.answer") -> Msg:
    now = datetime.now(UTC).isoformat()
    body = json.dumps(
        [
            {"time": now, "source": "a", "name": "cpu", "value": 1.0},
            {"time": now, "source": "b", "name": "cpu", "value": 2.0},
        ]
    ).encode()
    return Msg(
        replies,  # type: ignore[arg-type]
        subject=subjects.INGEST_METRICS,
        reply=reply,
        data=body,
        headers={"traceparent": TRACEPARENT},
    )


def not_stored(service: IngestService) -> float | None:
    return service.registry.get_sample_value("pulse_ingest_messages_not_stored_total")


@pytest.mark.parametrize("failing", [{"metrics.a.cpu", "metrics.b.cpu"}, {"metrics.b.cpu"}])
async def test_a_request_whose_points_were_not_stored_is_told_to_retry(
    failing: set[str],
) -> None:
    jetstream, replies = JetStream(failing), Replies()
    service = service_with(jetstream)
    with structlog.testing.capture_logs() as logs:
        await service.accept_metrics(request(replies))

    [(inbox, data)] = replies.sent
    assert inbox == "_INBOX.answer"
    answer = json.loads(data)
    assert answer == {"error": answer["error"], "retryable": True}  # and no "accepted"
    assert answer["error"].startswith("not stored: JetStream did not confirm the points")
    assert f"{len(failing)} of 2 parts" in answer["error"]
    # Every series was tried, and nothing went to DEADLETTER: the data was fine.
    assert sorted(jetstream.attempts) == ["metrics.a.cpu", "metrics.b.cpu"]
    [line] = [line for line in logs if line["log_level"] == "error"]
    assert line["event"] == "message not stored"
    assert line["trace_id"] == TRACE_ID
    assert line["error"].startswith("TimeoutError")
    assert not any(line["event"] == "message refused" for line in logs)
    assert not_stored(service) == 1
    assert service.registry.get_sample_value("pulse_ingest_points_accepted_total") == 0


async def test_a_plain_publish_that_was_not_stored_is_logged_and_counted() -> None:
    jetstream, replies = JetStream({"metrics.a.cpu"}), Replies()
    service = service_with(jetstream)
    with structlog.testing.capture_logs() as logs:
        await service.accept_metrics(request(replies, reply=""))
    assert replies.sent == []
    assert [line["event"] for line in logs if line["log_level"] == "error"] == [
        "message not stored"
    ]
    assert not_stored(service) == 1


async def test_stored_points_are_acknowledged_as_before() -> None:
    jetstream, replies = JetStream(set()), Replies()
    service = service_with(jetstream)
    await service.accept_metrics(request(replies))
    [(_, data)] = replies.sent
    assert json.loads(data) == {"accepted": 2}
    assert not_stored(service) == 0
