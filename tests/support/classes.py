"""Classes for live-channel tests: users with the classroom roles, classes created through the
gateway (or first seen in producers' events), a class's events published into the EVENTS
stream, and a count of who asked persistence about a class.

:class:`ClassDirectory` scripts ``rpc.classroom.get`` on the test's real nats-server with the
contract Structs (``GetClass`` -> ``ClassReply`` | ``RpcError``): only for the test of the
gateway's cache of owners, which moves a class between instructors under a fake clock.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pulse_contracts import RpcError, subjects
from pulse_contracts.classroom import ClassEvents, ClassInfo, ClassReply, GetClass, NotebookEvent

from tests.support import accounts
from tests.support.stack import PulseStack, bearer, login

PASSWORD = accounts.USER_PASSWORD


class ClassDirectory:
    """Answers ``rpc.classroom.get`` for the classes it is told about; counts the requests."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.owners: dict[str, str | None] = {}
        self.requests = 0
        self._subscription: Subscription | None = None
        self._decoder = msgspec.msgpack.Decoder(GetClass)

    async def start(self) -> ClassDirectory:
        self._subscription = await self.nc.subscribe(subjects.classroom_rpc("get"), cb=self._answer)
        await self.nc.flush()
        return self

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            await self.nc.flush()

    def add(self, class_id: str, owner_id: str | None) -> None:
        self.owners[class_id] = owner_id

    async def _answer(self, msg: Msg) -> None:
        self.requests += 1
        class_id = self._decoder.decode(msg.data).class_id
        answer: ClassReply | RpcError
        if class_id in self.owners:
            info = ClassInfo(
                id=class_id,
                title=class_id,
                owner_id=self.owners[class_id],
                collect_code=False,
                pseudonymise=False,
                planned_cells=None,
                created_at=datetime.now(UTC),
            )
            answer = ClassReply(class_=info)
        else:
            answer = RpcError(code="class_not_found", message=f"no class {class_id!r}")
        await msg.respond(msgspec.msgpack.encode(answer))


async def create_user(stack: PulseStack, email: str, role: str) -> tuple[str, str]:
    """A user made through the admin API: their id and an access token."""
    user_id = await accounts.create_user(stack, email, role)
    return user_id, await login(stack, email, PASSWORD)


async def create_class(stack: PulseStack, token: str, class_id: str) -> None:
    """The instructor whose token this is creates the class (and gets its producer key)."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            stack["gateway"].url("/api/v1/classes"),
            headers=bearer(token),
            json={"id": class_id, "title": class_id},
        )
    assert response.status_code == 201, response.text


async def first_seen_in_events(stack: PulseStack, nc: Client, class_id: str) -> None:
    """A class nobody created: a producer's event names it, persistence stores it without an
    owner. Returns once the gateway can see it."""
    await ClassPublisher(nc, class_id).publish(1)
    token = await stack.token()
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            response = await client.get(
                stack["gateway"].url(f"/api/v1/classes/{class_id}"), headers=bearer(token)
            )
            if response.status_code == 200:
                assert response.json()["class"]["owner_id"] is None, response.text
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"persistence did not store the class {class_id!r}: {response.text}")


class RequestCounter:
    """Counts the requests on a subject (a plain subscriber beside the real responder's
    queue group: it sees each request and answers none)."""

    def __init__(self, nc: Client, subject: str) -> None:
        self.nc = nc
        self.subject = subject
        self.requests = 0
        self._subscription: Subscription | None = None

    async def start(self) -> RequestCounter:
        self._subscription = await self.nc.subscribe(self.subject, cb=self._count)
        await self.nc.flush()
        return self

    async def stop(self) -> None:
        """Stop counting. While it listens the subject has a subscriber, so a requester
        whose real responder is gone waits for its timeout instead of hearing "no responders"
        at once."""
        if self._subscription is not None:
            await self._subscription.unsubscribe()
        await self.nc.flush()

    async def _count(self, msg: Msg) -> None:
        self.requests += 1


def notebook_event(class_id: str, student: str, cell: int, **fields: Any) -> NotebookEvent:
    return NotebookEvent(
        event_id=uuid.uuid4(),
        event_type="cell_executed",
        event_time=datetime.now(UTC),
        user_id=student,
        class_id=class_id,
        notebook_path="intro.ipynb",
        cell_id=f"cell-{cell}",
        cell_index=cell,
        **fields,
    )


class ClassPublisher:
    """Stores batches of a class's events in EVENTS, as ingest does; keeps their ids in order."""

    def __init__(self, nc: Client, class_id: str) -> None:
        self.js = nc.jetstream()
        self.class_id = class_id
        self.sent: list[str] = []
        self.seqs: list[int] = []

    async def publish(self, messages: int, *, per_message: int = 1, **fields: Any) -> None:
        for _ in range(messages):
            events = [
                notebook_event(self.class_id, f"student-{i}", len(self.sent) + i, **fields)
                for i in range(per_message)
            ]
            ack = await self.js.publish(
                subjects.events_subject(self.class_id),
                msgspec.msgpack.encode(ClassEvents(class_id=self.class_id, events=events)),
                stream=subjects.EVENTS_STREAM,
            )
            self.sent.extend(str(event.event_id) for event in events)
            self.seqs.append(ack.seq)
