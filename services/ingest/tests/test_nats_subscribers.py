"""The ``ingest.metrics`` and ``ingest.events`` subscribers on FastStream's in-memory test
broker: a message they refuse goes to DEADLETTER as it came (its bytes, headers, origin and
the reason), and valid points go to METRICS, each series once, under a ``Nats-Msg-Id`` that
makes a producer's retry harmless. A dead letter is ``broker.publish`` into a stream, which the
test broker delivers to the test's own stream subscribers; points go through nats-py's
JetStream client itself (``IngestService.jetstream``), which the test broker does not stand in
for, so the fixture hands them to ``broker.publish`` the same way. Nothing is sent anywhere.

(Valid notebook events are published with nats-py's JetStream client too
(``classroom/publishing.py``): that path is tested against a real server,
tests/e2e/test_classroom_pipeline.py, as is the points' in tests/e2e.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec
import pytest
from faststream.nats import JStream, NatsBroker, TestNatsBroker
from faststream.nats.message import NatsMessage
from pulse_contracts import DeadLetter, SeriesBatch, subjects
from pulse_ingest.app import IngestService
from pulse_ingest.settings import IngestSettings, Settings
from pulse_runtime.messaging import RawMessage, skip_decoding
from pulse_runtime.settings import CommonSettings

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
JSON = "application/json"


@dataclass
class Streams:
    """What the service published into DEADLETTER and METRICS."""

    service: IngestService
    letters: list[DeadLetter] = field(default_factory=list)
    stored: list[NatsMessage] = field(default_factory=list)

    @property
    def broker(self) -> NatsBroker:
        return self.service.broker

    def refused(self) -> float | None:
        return self.service.registry.get_sample_value("pulse_ingest_messages_deadlettered_total")


class ThroughBroker:
    """nats-py's ``JetStreamContext.publish`` as the in-memory test broker's publish."""

    def __init__(self, broker: NatsBroker) -> None:
        self._broker = broker

    async def publish(
        self,
        subject: str,
        payload: bytes,
        *,
        headers: dict[str, str],
        stream: str,
        timeout: float,  # noqa: ASYNC109 - nats-py's signature
    ) -> None:
        await self._broker.publish(
            payload, subject, headers=headers, stream=stream, timeout=timeout
        )


@pytest.fixture
async def ingest() -> AsyncIterator[Streams]:
    """The service's own broker and subscribers, in memory, with a stream subscriber each for
    DEADLETTER and METRICS."""
    streams = Streams(IngestService(Settings(common=CommonSettings(), ingest=IngestSettings())))
    broker = streams.broker
    streams.service.jetstream = lambda: ThroughBroker(broker)  # type: ignore[method-assign, assignment, return-value]

    @broker.subscriber(
        "deadletter.>",
        stream=JStream(subjects.DEADLETTER_STREAM, declare=False),
        decoder=skip_decoding,
    )
    async def deadletter(message: RawMessage) -> None:
        streams.letters.append(msgspec.msgpack.decode(message.body, type=DeadLetter))

    @broker.subscriber(
        "metrics.>", stream=JStream(subjects.METRICS_STREAM, declare=False), decoder=skip_decoding
    )
    async def metrics(message: RawMessage) -> None:
        streams.stored.append(message)

    async with TestNatsBroker(broker):
        yield streams


MALFORMED = "malformed JSON: JSON is malformed: object keys must be strings (byte 1)"


@pytest.mark.parametrize(
    ("subject", "body", "reason"),
    [
        pytest.param(subjects.INGEST_METRICS, b"{not json", MALFORMED, id="metrics-not-json"),
        pytest.param(
            subjects.INGEST_METRICS, b"[]", "empty batch: send at least one point", id="no-points"
        ),
        pytest.param(
            subjects.INGEST_METRICS,
            b'{"source": "a", "name": "cpu", "value": 1}',
            "invalid metric point: Object missing required field `time`",
            id="point-without-time",
        ),
        pytest.param(subjects.INGEST_EVENTS, b"{not json", MALFORMED, id="events-not-json"),
        pytest.param(
            subjects.INGEST_EVENTS,
            b'{"eventType": "cell_executed"}',
            "invalid event: Object missing required field `eventId`",
            id="event-without-id",
        ),
    ],
)
async def test_a_refused_message_is_dead_lettered_as_it_came_with_the_reason(
    ingest: Streams, subject: str, body: bytes, reason: str
) -> None:
    headers = {"Content-Type": JSON, "traceparent": TRACEPARENT}
    await ingest.broker.publish(body, subject, headers=headers)

    [letter] = ingest.letters
    assert (letter.origin, letter.data, letter.trace_id) == (subject, body, TRACE_ID)
    assert letter.reason == reason
    assert letter.headers["traceparent"] == TRACEPARENT
    assert letter.headers["Content-Type"] == JSON
    assert ingest.stored == []
    assert ingest.refused() == 1


async def test_valid_points_are_stored_one_message_per_series_under_their_digest(
    ingest: Streams,
) -> None:
    now = datetime.now(UTC).isoformat()
    body = json.dumps(
        [
            {"time": now, "source": "a", "name": "cpu", "value": 1.0},
            {"time": now, "source": "a", "name": "cpu", "value": 2.0},
            {"time": now, "source": "b", "name": "mem", "value": 3.0},
        ]
    ).encode()
    for _ in range(2):  # a producer's retry: the same ids, which JetStream stores once
        await ingest.broker.publish(body, subjects.INGEST_METRICS, headers={"Content-Type": JSON})

    assert ingest.letters == []
    by_series = sorted(ingest.stored, key=lambda message: message.raw_message.subject)
    assert [m.raw_message.subject for m in by_series] == [
        "metrics.a.cpu",
        "metrics.a.cpu",
        "metrics.b.mem",
        "metrics.b.mem",
    ]
    batches = [msgspec.msgpack.decode(m.body, type=SeriesBatch) for m in by_series[::2]]
    assert [(b.source, b.name, b.values) for b in batches] == [
        ("a", "cpu", [1.0, 2.0]),
        ("b", "mem", [3.0]),
    ]
    for message in by_series:
        digest = hashlib.blake2b(message.body, digest_size=16).hexdigest()
        assert message.headers["Nats-Msg-Id"] == digest
        assert message.headers["Content-Type"] == "application/msgpack"
    ids = [m.headers["Nats-Msg-Id"] for m in by_series]
    assert ids[0] == ids[1] != ids[2] == ids[3]
    assert ingest.service.registry.get_sample_value("pulse_ingest_points_accepted_total") == 6
