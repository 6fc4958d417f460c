"""Resumes after a reconnect: from a channel's kept frames, from the stream, and a storm of
them bounded (docs/adr/0015). JetStream's side is observed on the real server: every API
request crosses ``$JS.API.>`` and every consumer created is announced as an advisory."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from pulse_contracts import Codec, SeriesBatch, subjects, to_epoch_us

from tests.e2e.test_websocket import SERVICES, Publisher, Socket, open_socket, values_of
from tests.support.stack import PulseStack

pytestmark = pytest.mark.integration


class JetStreamWatch:
    """The JetStream API requests and consumer creations the server sees, in order."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.consumers_created = 0

    @classmethod
    async def start(cls, nc: Client) -> JetStreamWatch:
        watch = cls()

        async def request(msg: Msg) -> None:
            watch.requests.append(msg.subject)

        async def created(msg: Msg) -> None:
            watch.consumers_created += 1

        await nc.subscribe("$JS.API.>", cb=request)
        await nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.CREATED.>", cb=created)
        await nc.flush()
        return watch

    def reads_at_once(self) -> int:
        """The most replay reads in progress at once, as the server saw them: a read runs
        from its consumer's CREATE to its last pull (MSG.NEXT) of that consumer. (Counting
        live consumers would not do: each outlives its read by its inactivity threshold.)"""
        first: dict[str, int] = {}
        last: dict[str, int] = defaultdict(int)
        for index, subject in enumerate(self.requests):
            # $JS.API.CONSUMER.CREATE.<stream>.<name>[.<filter>], …MSG.NEXT.<stream>.<name>
            parts = subject.split(".")
            if parts[2] != "CONSUMER":
                continue
            name = parts[6] if parts[3] == "MSG" else parts[5]
            first.setdefault(name, index)
            last[name] = index
        events = sorted(
            [(index, 1) for index in first.values()] + [(index, -1) for index in last.values()],
            key=lambda event: (event[0], -event[1]),
        )
        running = peak = 0
        for _, step in events:
            running += step
            peak = max(peak, running)
        return peak


async def _until_seq(socket: Socket, frames: list[dict[str, Any]], seq: int) -> None:
    while not frames or frames[-1]["seq"] < seq:
        frames.append(await socket.until("data"))


async def test_a_resume_within_the_kept_frames_costs_jetstream_nothing(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(SERVICES)
    nc = await nats.connect(stack.nats_url)
    publisher = Publisher(nc, "ws_r", "kept")
    received: list[dict[str, Any]] = []
    try:
        async with open_socket(stack) as socket:
            await socket.send(type="subscribe", channel="metric:kept")
            await socket.until("subscribed")
            await publisher.publish(10)
            await socket.data_until(received, values=10)
        await publisher.publish(5)  # missed while away; its channel still delivers them
        watch = await JetStreamWatch.start(nc)
        async with open_socket(stack) as socket:
            await socket.send(
                type="subscribe", channel="metric:kept", resume_from=received[-1]["seq"]
            )
            subscribed = await socket.until("subscribed")
            assert subscribed["seq"] == received[-1]["seq"]
            await socket.data_until(received, values=15)
            await nc.flush()
            assert watch.requests == []  # not even the stream's bounds
            assert watch.consumers_created == 0
            publishing = asyncio.create_task(publisher.publish(5, every_s=0.02))
            await socket.data_until(received, values=20)
            await publishing
    finally:
        await nc.drain()
    assert values_of(received) == [float(i) for i in range(20)]
    seqs = [frame["seq"] for frame in received]
    assert seqs == sorted(set(seqs))


async def test_a_resume_older_than_the_kept_frames_reads_the_stream(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(SERVICES, {"PULSE_WS_RESUME_FRAMES": "3"})
    nc = await nats.connect(stack.nats_url)
    publisher = Publisher(nc, "ws_r", "older")
    received: list[dict[str, Any]] = []
    try:
        async with open_socket(stack) as socket:
            await socket.send(type="subscribe", channel="metric:older")
            await socket.until("subscribed")
            await publisher.publish(10)
            await socket.data_until(received, values=10)
        await publisher.publish(8)  # more than the channel keeps
        watch = await JetStreamWatch.start(nc)
        async with open_socket(stack) as socket:
            await socket.send(
                type="subscribe", channel="metric:older", resume_from=received[-1]["seq"]
            )
            await socket.until("subscribed")
            await socket.data_until(received, values=18)
            publishing = asyncio.create_task(publisher.publish(4, every_s=0.02))
            await socket.data_until(received, values=22)
            await publishing
    finally:
        await nc.drain()
    # One to learn that the 8 missed frames do not fit in the 3 kept, one to read them.
    assert watch.consumers_created == 2
    assert values_of(received) == [float(i) for i in range(22)]
    seqs = [frame["seq"] for frame in received]
    assert seqs == sorted(set(seqs))


async def test_resumes_older_than_the_kept_frames_share_one_stream_read(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(SERVICES)
    nc = await nats.connect(stack.nats_url)
    publisher = Publisher(nc, "ws_r", "shared")
    try:
        await publisher.publish(10)  # before this gateway watched the channel
        seqs: list[int] = []
        async with open_socket(stack) as watching:
            await watching.send(type="subscribe", channel="metric:shared")
            await watching.until("subscribed")
            await publisher.publish(3)
            seqs += [(await watching.until("data"))["seq"] for _ in range(3)]
            after = seqs[0] - 8  # the sequence of value 2 (value 10 is seqs[0]; one message each)
            watch = await JetStreamWatch.start(nc)
            async with contextlib.AsyncExitStack() as sockets:
                clients = [await sockets.enter_async_context(open_socket(stack)) for _ in range(3)]
                await asyncio.gather(
                    *(
                        socket.send(type="subscribe", channel="metric:shared", resume_from=after)
                        for socket in clients
                    )
                )

                async def replayed(socket: Socket) -> list[float]:
                    frames: list[dict[str, Any]] = []
                    await socket.until("subscribed")
                    await socket.data_until(frames, values=10)
                    return values_of(frames)

                replays = await asyncio.wait_for(
                    asyncio.gather(*(replayed(socket) for socket in clients)), 30
                )
                await nc.flush()
    finally:
        await nc.drain()
    assert replays == [[float(i) for i in range(3, 13)]] * 3
    assert watch.consumers_created == 1


async def test_stream_reads_beyond_the_concurrency_limit_wait_their_turn(make_stack: Any) -> None:
    limit = 2
    stack: PulseStack = make_stack()
    # Nothing kept: every resume reads the stream.
    stack.start(
        SERVICES, {"PULSE_WS_RESUME_FRAMES": "0", "PULSE_WS_REPLAY_CONCURRENCY": str(limit)}
    )
    nc = await nats.connect(stack.nats_url)
    await Publisher(nc, "ws_r", "limited").publish(1)  # ingest has set the stream up
    js = nc.jetstream()
    codec = Codec()
    for value in range(200):
        batch = SeriesBatch(
            source="ws_r",
            name="limited",
            times_us=[to_epoch_us(datetime.now(UTC))],
            values=[float(value)],
        )
        await js.publish(subjects.metrics_subject("ws_r", "limited"), codec.pack(batch))
    watch = await JetStreamWatch.start(nc)

    async def replayed(socket: Socket) -> list[float]:
        frames: list[dict[str, Any]] = []
        await socket.until("subscribed", within_s=30)
        await socket.data_until(frames, values=200)
        return values_of(frames)

    try:
        async with contextlib.AsyncExitStack() as sockets:
            clients = [
                await sockets.enter_async_context(open_socket(stack)) for _ in range(limit + 1)
            ]
            # All at the same moment, as after a storm: the gateway handles them side by side.
            await asyncio.gather(
                *(
                    socket.send(type="subscribe", channel="metric:limited", resume_from=1)
                    for socket in clients
                )
            )
            replays = await asyncio.wait_for(
                asyncio.gather(*(replayed(socket) for socket in clients)), 60
            )
            await nc.flush()
    finally:
        await nc.drain()
    assert replays == [[float(value) for value in range(200)]] * (limit + 1)
    assert watch.consumers_created == limit + 1
    assert watch.reads_at_once() <= limit
    # Resumes asking at the same moment share one request for the stream's bounds.
    assert sum(".STREAM.INFO." in subject for subject in watch.requests) == 1
