"""A class's live event feed on ``/ws`` (``class:<class_id>``) against a real gateway, auth,
ingest (which creates the EVENTS stream) and nats-server: history then live, resume, who may
watch, and a slow reader.

Who owns a class comes from persistence's ``rpc.classroom.get``: the classes are created
through ``POST /api/v1/classes`` (or first seen in producers' events). Only the test of the
gateway's cache of owners scripts the answers (:class:`tests.support.classes.ClassDirectory`),
to move a class between instructors under a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
import websockets
from nats.aio.client import Client
from pulse_contracts import subjects
from pulse_dev.embedded import EmbeddedNats
from pulse_gateway.live.class_access import NO_SUCH_CLASS, ClassOwners

from tests.e2e.test_websocket import SERVICES, Socket, StalledClient, ws_url
from tests.support.classes import (
    ClassDirectory,
    ClassPublisher,
    RequestCounter,
    create_class,
    create_user,
    first_seen_in_events,
)
from tests.support.stack import PulseStack

pytestmark = pytest.mark.integration

CLASS = "py101"
CHANNEL = f"class:{CLASS}"


class Classroom:
    """A stack with an owner, another instructor, a student and a metrics user."""

    def __init__(self, stack: PulseStack, nc: Client, asked: RequestCounter) -> None:
        self.stack = stack
        self.nc = nc
        self.asked = asked
        """Counts the gateway's ``rpc.classroom.get`` requests."""
        self.tokens: dict[str, str] = {}

    async def people(self) -> None:
        _, self.tokens["owner"] = await create_user(self.stack, "owner@pulse.test", "instructor")
        _, self.tokens["other"] = await create_user(self.stack, "other@pulse.test", "instructor")
        _, self.tokens["student"] = await create_user(self.stack, "stu@pulse.test", "student")
        _, self.tokens["user"] = await create_user(self.stack, "user@pulse.test", "user")
        self.tokens["admin"] = await self.stack.token()
        await create_class(self.stack, self.tokens["owner"], CLASS)


@contextlib.asynccontextmanager
async def classroom(make_stack: Any, **env: str) -> AsyncIterator[Classroom]:
    stack: PulseStack = make_stack(**env)
    stack.start([*SERVICES, "persistence"])
    nc = await nats.connect(stack.nats_url)
    room = Classroom(stack, nc, await RequestCounter(nc, subjects.classroom_rpc("get")).start())
    await room.people()
    try:
        yield room
    finally:
        await nc.drain()


@contextlib.asynccontextmanager
async def watching(room: Classroom, who: str) -> AsyncIterator[Socket]:
    async with websockets.connect(ws_url(room.stack)) as connection:
        socket = Socket(connection)
        await socket.send(type="auth", token=room.tokens[who])
        ready = await socket.receive()
        assert ready["type"] == "ready", ready
        yield socket


async def events_until(socket: Socket, frames: list[dict[str, Any]], count: int) -> None:
    """Append ``events`` frames to ``frames`` until they hold ``count`` events in all."""
    while sum(len(frame["events"]) for frame in frames) < count:
        frame = await socket.receive()
        assert frame["type"] in ("events", "gap"), frame
        frames.append(frame)


def ids(frames: list[dict[str, Any]]) -> list[str]:
    return [event["eventId"] for frame in frames for event in frame["events"]]


async def test_history_then_live_without_gap_or_duplicate(make_stack: Any) -> None:
    async with classroom(make_stack) as room:
        publisher = ClassPublisher(room.nc, CLASS)
        await publisher.publish(6, per_message=2)
        for who in ("owner", "admin"):
            # Events keep arriving while the subscription reads its history: the seam is hit.
            before = len(publisher.sent)
            publishing = asyncio.create_task(publisher.publish(20, per_message=2))
            async with watching(room, who) as socket:
                await socket.send(
                    type="subscribe", channel=CHANNEL, history={"minutes": 5, "max_points": 1000}
                )
                subscribed = await socket.until("subscribed")
                await publishing
                frames: list[dict[str, Any]] = []
                await events_until(socket, frames, len(publisher.sent))
            assert subscribed["channel"] == CHANNEL
            assert ids(frames) == publisher.sent, who  # all, in order, each once
            assert len(publisher.sent) == before + 40
            seqs = [frame["seq"] for frame in frames]
            assert seqs == sorted(seqs)
            assert seqs[-1] == publisher.seqs[-1]
            live = [frame for frame in frames if frame["seq"] > subscribed["seq"]]
            assert all(len(frame["events"]) == 2 for frame in live)  # one frame per message
        event = frames[-1]["events"][-1]
        assert event["eventType"] == "cell_executed"  # camelCase, as stored
        assert {"eventTime", "userId", "classId", "cellIndex", "notebookPath"} <= event.keys()


async def test_history_is_the_latest_events_only(make_stack: Any) -> None:
    async with classroom(make_stack) as room:
        publisher = ClassPublisher(room.nc, CLASS)
        await publisher.publish(60, per_message=3)  # 180 events: two history frames
        other = ClassPublisher(room.nc, "py102")
        await other.publish(5)  # another class's events are not in this channel
        async with watching(room, "owner") as socket:
            await socket.send(
                type="subscribe", channel=CHANNEL, history={"minutes": 5, "max_points": 150}
            )
            subscribed = await socket.until("subscribed")
            frames: list[dict[str, Any]] = []
            await events_until(socket, frames, 150)
            assert subscribed["seq"] == publisher.seqs[-1]
            assert [len(frame["events"]) for frame in frames] == [100, 50]
            assert ids(frames) == publisher.sent[-150:]
            # Each frame: the sequence of the message its last event came from.
            assert [frame["seq"] for frame in frames] == [
                publisher.seqs[(180 - 150 + 100 - 1) // 3],  # the 100th of the latest 150
                publisher.seqs[-1],
            ]
            await publisher.publish(1)
            live: list[dict[str, Any]] = []
            await events_until(socket, live, 1)
            assert ids(live) == publisher.sent[-1:]


@pytest.mark.parametrize("kept_frames", ["512", "0"], ids=["from-memory", "from-the-stream"])
async def test_a_resume_after_a_reconnect_loses_and_repeats_nothing(
    make_stack: Any, kept_frames: str
) -> None:
    async with classroom(make_stack, PULSE_WS_RESUME_FRAMES=kept_frames) as room:
        publisher = ClassPublisher(room.nc, CLASS)
        first: list[dict[str, Any]] = []
        async with watching(room, "owner") as socket:
            await socket.send(type="subscribe", channel=CHANNEL)
            await socket.until("subscribed")
            await publisher.publish(10, per_message=2)
            await events_until(socket, first, 20)
        await publisher.publish(7, per_message=2)  # missed while away
        last_seq = first[-1]["seq"]
        second: list[dict[str, Any]] = []
        async with watching(room, "owner") as socket:
            await socket.send(type="subscribe", channel=CHANNEL, resume_from=last_seq)
            subscribed = await socket.until("subscribed")
            assert subscribed["seq"] == last_seq
            publishing = asyncio.create_task(publisher.publish(5, per_message=2))
            await events_until(socket, second, 24)
            await publishing
        assert ids(first) + ids(second) == publisher.sent
        seqs = [frame["seq"] for frame in first + second]
        assert seqs == sorted(set(seqs)) == publisher.seqs


async def test_students_other_instructors_and_users_are_refused(make_stack: Any) -> None:
    async with classroom(make_stack) as room:
        await first_seen_in_events(room.stack, room.nc, "ownerless")  # admins only
        refusals: dict[tuple[str, str], tuple[str, str]] = {}
        for who in ("student", "user", "other", "owner", "admin"):
            async with watching(room, who) as socket:
                for channel in (CHANNEL, "class:ownerless", "class:no-such-class"):
                    await socket.send(type="subscribe", channel=channel)
                    frame = await socket.receive()
                    if frame["type"] == "error":
                        assert frame["channel"] == channel
                        refusals[(who, channel)] = (frame["code"], frame["message"])
                    else:
                        assert frame["type"] == "subscribed", frame
        # Admins watch every class (one not seen yet too); an instructor only their own.
        assert set(refusals) == {
            (who, channel)
            for who in ("student", "user", "other", "owner")
            for channel in (CHANNEL, "class:ownerless", "class:no-such-class")
            if (who, channel) != ("owner", CHANNEL)
        }
        assert {code for code, _ in refusals.values()} == {"forbidden"}
        # A class that does not exist looks like one the instructor does not own.
        assert refusals[("other", "class:no-such-class")][1] == (
            "you may not watch 'class:no-such-class'"
        )
        assert refusals[("other", CHANNEL)][1] == f"you may not watch {CHANNEL!r}"
        assert refusals[("student", CHANNEL)][1] == f"the student role may not watch {CHANNEL!r}"


async def test_options_that_do_not_apply_to_events_are_refused(make_stack: Any) -> None:
    async with classroom(make_stack) as room, watching(room, "owner") as socket:
        await socket.send(type="subscribe", channel=CHANNEL, max_rate=1)
        error = await socket.receive()
        assert (error["type"], error["code"]) == ("error", "unsupported_option")
        await socket.send(
            type="subscribe", channel=CHANNEL, history={"minutes": 5, "max_points": 1001}
        )
        error = await socket.receive()
        assert (error["type"], error["code"]) == ("error", "history_too_long")
        await socket.send(type="subscribe", channel="class:Not_A_Slug")
        error = await socket.receive()
        assert (error["type"], error["code"]) == ("error", "unknown_channel")


async def test_a_class_owner_is_asked_once_and_an_unreachable_persistence_is_unavailable(
    make_stack: Any,
) -> None:
    async with classroom(make_stack) as room:
        for _ in range(3):
            async with watching(room, "owner") as socket:
                await socket.send(type="subscribe", channel=CHANNEL)
                assert (await socket.receive())["type"] == "subscribed"
        assert room.asked.requests == 1  # kept PULSE_WS_CLASS_OWNER_TTL_S (30 s)
        await room.asked.stop()  # nobody else listens on rpc.classroom.get now
        room.stack["persistence"].terminate()
        async with watching(room, "other") as socket:
            await socket.send(type="subscribe", channel="class:py102")
            error = await socket.receive()
            assert (error["type"], error["code"]) == ("error", "unavailable")


async def test_a_reader_that_stops_reading_is_let_go_and_the_others_miss_nothing(
    make_stack: Any,
) -> None:
    async with classroom(make_stack, PULSE_WS_OUTBOX_FRAMES="4") as room:
        publisher = ClassPublisher(room.nc, CLASS)
        stalled = await StalledClient.connect(room.stack)
        try:
            async with watching(room, "owner") as reader:
                await reader.send(type="subscribe", channel=CHANNEL)
                await reader.until("subscribed")
                await stalled.send({"type": "subscribe", "channel": CHANNEL})
                await asyncio.sleep(0.5)
                frames: list[dict[str, Any]] = []
                reading = asyncio.create_task(events_until(reader, frames, 200))
                # About 12 MB of collected code: more than any socket buffer holds.
                await publisher.publish(200, code="x" * 60_000)
                await reading
            close_code = await stalled.read_to_close()
        finally:
            stalled.writer.close()
        assert [frame["type"] for frame in frames] == ["events"] * 200  # no gap for it
        assert ids(frames) == publisher.sent
        assert close_code == 4408


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_class_owners_are_kept_and_concurrent_asks_share_one_request(
    nats_server: EmbeddedNats,
) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        directory = await ClassDirectory(nc).start()
        directory.add(CLASS, "instructor-1")
        directory.add("ownerless", None)
        clock = Clock()
        owners = ClassOwners(nc, timeout_s=5, ttl_s=30, clock=clock)
        answers = await asyncio.gather(*(owners.owner(CLASS) for _ in range(10)))
        assert answers == ["instructor-1"] * 10
        assert directory.requests == 1
        assert await owners.owner("ownerless") is None
        assert await owners.owner("later") is NO_SUCH_CLASS
        assert directory.requests == 3
        directory.add("later", "instructor-2")  # created just after someone asked
        clock.now = 4.9
        assert await owners.owner("later") is NO_SUCH_CLASS  # kept, but not for long
        clock.now = 5.1
        assert await owners.owner("later") == "instructor-2"
        directory.owners[CLASS] = "instructor-3"  # an admin gave the class to someone else
        assert await owners.owner(CLASS) == "instructor-1"
        clock.now = 30.1
        assert await owners.owner(CLASS) == "instructor-3"
        assert directory.requests == 5
    finally:
        await nc.drain()
