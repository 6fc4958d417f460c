"""Classes for live-channel tests: users with the classroom roles, a class's events published
into the EVENTS stream, and who owns which class.

Who owns a class is persistence's ``rpc.classroom.get`` (branch cls-classes). Until that verb
is merged, :class:`ClassDirectory` answers it on the test's real nats-server with the same
contract Structs (``GetClass`` -> ``ClassReply`` | ``RpcError``); after the merge the tests
start persistence and create their classes through ``POST /api/v1/classes`` instead.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import nats
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pulse_contracts import RpcError, subjects
from pulse_contracts.classroom import ClassEvents, ClassInfo, ClassReply, GetClass, NotebookEvent

from tests.support.stack import PulseStack, bearer, login

PASSWORD = "a perfectly long password"


class ClassDirectory:
    """Answers ``rpc.classroom.get`` for the classes it is told about; counts the requests."""

    def __init__(self, nc: nats.NATS) -> None:
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
    async with httpx.AsyncClient() as client:
        response = await client.post(
            stack["gateway"].url("/api/v1/admin/users"),
            headers=bearer(await stack.token()),
            json={"email": email, "password": PASSWORD, "role": role},
        )
    assert response.status_code == 201, response.text
    return response.json()["id"], await login(stack, email, PASSWORD)


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

    def __init__(self, nc: nats.NATS, class_id: str) -> None:
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
