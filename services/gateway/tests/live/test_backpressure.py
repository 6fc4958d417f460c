"""The slow-consumer policy without a socket: the bounded outbox, conflation and gap frames,
the give-up within the grace period, and the frames held while a subscription catches up."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pulse_contracts import SeriesBatch
from pulse_contracts.classroom import ClassEvents, NotebookEvent
from pulse_gateway.live.backpressure import (
    SLOW_CONSUMER_REASON,
    Outbox,
    Payload,
    held_too_many,
    let_go,
    no_gap_frame,
)
from pulse_gateway.live.channels import parse_channel
from pulse_gateway.live.connection import FrameCounts
from pulse_gateway.live.fanout import Delivery
from pulse_gateway.live.feeds import CLASS_EVENT_FEED, METRIC_FEED
from pulse_gateway.live.frames import CLOSE_SLOW_CONSUMER, FrameCodec
from pulse_gateway.live.metrics_socket import MetricsSocketClient
from pulse_gateway.live.session import SocketClient
from pulse_gateway.settings import WebSocketSettings

FRAMES = FrameCodec()


def gap(channel: str, after: int, before: int) -> str:
    return f"gap {channel} {after} {before}"


async def drain(outbox: Outbox) -> list[Payload]:
    items = []
    while len(outbox):
        items.append(await outbox.next())
    return items


async def test_frames_flow_in_order_while_there_is_room() -> None:
    outbox = Outbox(capacity=4, grace_s=10, gap=gap)
    assert outbox.data("c", ("s", "n"), 1, "one")
    outbox.control("ping")
    assert outbox.data("c", ("s", "n"), 2, "two")
    assert await drain(outbox) == ["one", "ping", "two"]


async def test_a_full_outbox_keeps_the_latest_frame_per_series_after_a_gap_frame() -> None:
    outbox = Outbox(capacity=4, grace_s=10, gap=gap)
    assert outbox.data("c", ("s", "a"), 1, "a1")
    assert await outbox.next() == "a1"  # the client has seen sequence 1
    for seq, series in ((2, "a"), (3, "b"), (4, "a"), (5, "b")):
        assert outbox.data("c", ("s", series), seq, f"{series}{seq}")
    outbox.control("ping")
    assert outbox.data("c", ("s", "a"), 6, "a6")  # full: conflated, then queued
    assert await drain(outbox) == ["ping", "gap c 1 5", "a4", "b5", "a6"]
    assert outbox.conflations == 1


async def test_filling_up_again_within_the_grace_period_gives_up() -> None:
    outbox = Outbox(capacity=2, grace_s=60, gap=gap)
    for seq in range(1, 3):
        assert outbox.data("c", ("s", "a"), seq, f"a{seq}")
    assert outbox.data("c", ("s", "a"), 3, "a3")  # conflated to a2 (+ gap): room again
    assert not outbox.data("c", ("s", "a"), 4, "a4")  # full again at once: a slow consumer


async def test_next_waits_for_a_frame() -> None:
    outbox = Outbox(capacity=2, grace_s=1, gap=gap)
    waiting = asyncio.create_task(outbox.next())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    outbox.control("hello")
    assert await waiting == "hello"


async def test_without_a_gap_frame_in_the_protocol_conflation_keeps_only_the_latest() -> None:
    outbox = Outbox(capacity=2, grace_s=10, gap=no_gap_frame)
    for seq in (1, 2):
        assert outbox.data("c", ("s", "a"), seq, f"a{seq}")
    assert outbox.data("c", ("s", "a"), 3, "a3")  # full: a2 kept, no gap frame
    assert await drain(outbox) == ["a2", "a3"]
    assert outbox.conflations == 1


async def test_the_points_of_one_message_are_one_frame_of_the_outbox() -> None:
    outbox = Outbox(capacity=2, grace_s=10, gap=no_gap_frame)
    assert outbox.data("c", ("s", "a"), 1, ["a1 first", "a1 second"])
    assert outbox.data("c", ("s", "a"), 2, ["a2 first", "a2 second"])
    assert outbox.data("c", ("s", "a"), 3, ["a3"])  # conflated: the whole latest message kept
    assert await drain(outbox) == [["a2 first", "a2 second"], ["a3"]]


def test_holding_more_than_the_outbox_while_catching_up_is_too_many() -> None:
    outbox = Outbox(capacity=4, grace_s=10, gap=gap)
    assert not held_too_many(4, outbox)
    assert held_too_many(5, outbox)


def test_a_slow_consumer_is_closed_with_4408() -> None:
    closes: list[tuple[int, str]] = []

    class Client:
        def close(self, code: int, reason: str) -> None:
            closes.append((code, reason))

    let_go(Client())
    assert closes == [(4408, SLOW_CONSUMER_REASON)]


# -- the same policy on a /ws/metrics socket -------------------------------------------------


class SlowSocket:
    """A socket whose client reads only when told to; no uvicorn protocol in its scope, so
    every frame takes the outbox."""

    def __init__(self) -> None:
        self.scope: dict[str, Any] = {}
        self.reading = asyncio.Event()
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None

    async def send_text(self, text: str) -> None:
        await self.reading.wait()
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def close_code(client: MetricsSocketClient | SocketClient) -> int | None:
    """The client's close code, read afresh on each call (mypy would keep an assert's
    narrowing of the property across the calls that change it)."""
    return client.close_code


def metrics_client(socket: SlowSocket, outbox_frames: int) -> MetricsSocketClient:
    return MetricsSocketClient(
        socket,  # type: ignore[arg-type]
        spec=parse_channel("metric:n"),
        hub=None,  # type: ignore[arg-type]
        keyring=None,  # type: ignore[arg-type]
        frames=FRAMES,
        settings=WebSocketSettings(slow_consumer_grace_s=10),
        counts=FrameCounts(),
        outbox_frames=outbox_frames,
    )


def message(seq: int) -> Delivery:
    batch = SeriesBatch(source="s", name="n", times_us=[seq, seq + 1], values=[seq, seq + 0.5])
    return METRIC_FEED.delivery("metric:n", seq, batch, FRAMES)


async def test_a_metrics_socket_behind_gets_the_latest_points_one_frame_each() -> None:
    socket = SlowSocket()
    client = metrics_client(socket, outbox_frames=2)
    messages = [message(seq) for seq in (1, 2, 3, 4)]
    client.deliver(messages[0])
    await asyncio.sleep(0)  # the writer takes it, and waits for the client to read
    for delivery in messages[1:]:
        client.deliver(delivery)  # 4 finds the outbox full: 2 is dropped, 3 kept
    writer = client._writer
    assert writer is not None
    socket.reading.set()
    await asyncio.wait_for(writer, 5)  # it ends once the outbox is empty
    kept = [messages[0], messages[2], messages[3]]
    assert socket.sent == [frame for delivery in kept for frame in delivery.point_frames()]
    assert client.outbox.conflations == 1
    assert close_code(client) is None


async def test_a_metrics_socket_behind_again_within_the_grace_period_is_closed_with_4408() -> None:
    socket = SlowSocket()
    client = metrics_client(socket, outbox_frames=2)
    client.deliver(message(1))
    await asyncio.sleep(0)
    for seq in (2, 3, 4):
        client.deliver(message(seq))
    assert close_code(client) is None  # conflated once
    client.deliver(message(5))  # full again at once
    assert close_code(client) == CLOSE_SLOW_CONSUMER
    await asyncio.sleep(0.01)
    assert socket.closed == (CLOSE_SLOW_CONSUMER, SLOW_CONSUMER_REASON)
    client.deliver(message(6))  # nothing more is queued for a socket being closed
    assert client.outbox.conflations == 1


# -- the same policy on a class channel ------------------------------------------------------


def class_events(seq: int) -> Delivery:
    event = NotebookEvent(
        event_id=uuid.UUID(int=seq),
        event_type="cell_executed",
        event_time=datetime(2026, 12, 5, 10, 0, seq, tzinfo=UTC),
        user_id="ada",
        class_id="py101",
        notebook_path="intro.ipynb",
        cell_id=f"c{seq}",
        cell_index=seq,
    )
    return CLASS_EVENT_FEED.delivery(
        "class:py101", seq, ClassEvents(class_id="py101", events=[event]), FRAMES
    )


def class_socket_client(socket: SlowSocket, outbox_frames: int) -> SocketClient:
    return SocketClient(
        socket,  # type: ignore[arg-type]
        hub=None,  # type: ignore[arg-type]
        reader=None,  # type: ignore[arg-type]
        keyring=None,  # type: ignore[arg-type]
        class_owners=None,  # type: ignore[arg-type]
        frames=FRAMES,
        settings=WebSocketSettings(outbox_frames=outbox_frames, slow_consumer_grace_s=10),
        msgpack=False,
        counts=FrameCounts(),
    )


async def test_a_class_channel_behind_gets_a_gap_frame_then_its_latest_events_frame() -> None:
    """Events cannot be conflated like points: the one feed of the channel keeps its latest
    frame, after a gap frame naming the sequences the client may re-read (resume_from)."""
    socket = SlowSocket()
    client = class_socket_client(socket, outbox_frames=2)
    client.send_data(class_events(1))
    await asyncio.sleep(0)  # the writer takes it, and waits for the client to read
    for seq in (2, 3, 4):
        client.send_data(class_events(seq))  # 4 finds the outbox full: 2 dropped, 3 kept
    writer = client._writer
    assert writer is not None
    socket.reading.set()
    await asyncio.wait_for(writer, 5)
    frames = [json.loads(text) for text in socket.sent]
    assert [(frame["type"], frame.get("seq")) for frame in frames] == [
        ("events", 1),
        ("gap", None),
        ("events", 3),
        ("events", 4),
    ]
    assert (frames[1]["channel"], frames[1]["after_seq"], frames[1]["before_seq"]) == (
        "class:py101",
        1,
        3,
    )
    assert frames[2]["events"][0]["cellIndex"] == 3  # camelCase, as stored
    assert close_code(client) is None


async def test_a_class_channel_behind_again_within_the_grace_period_is_closed_with_4408() -> None:
    socket = SlowSocket()
    client = class_socket_client(socket, outbox_frames=2)
    client.send_data(class_events(1))
    await asyncio.sleep(0)
    for seq in (2, 3, 4):
        client.send_data(class_events(seq))
    assert close_code(client) is None  # the gap frame, once
    client.send_data(class_events(5))  # full again at once
    assert close_code(client) == CLOSE_SLOW_CONSUMER
