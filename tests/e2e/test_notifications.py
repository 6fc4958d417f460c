"""Notifications end to end on real processes: auth, the notifier, two gateway replicas and a
nats-server with JetStream. A notification sent through the API reaches every device of its
recipient on both gateways; marking it read on one clears it on the others; a device that
connects later, or comes back, sees the right unread count; nobody reads or changes another
user's inbox; bad requests get stable 4xx codes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from tests.e2e.test_websocket import Socket, ws_url
from tests.support.classes import create_user
from tests.support.stack import PulseStack, bearer

pytestmark = pytest.mark.integration

SERVICES = ["auth", "notifier", "gateway"]
INBOX = "/api/v1/notifications"


class Inbox:
    """One user's REST view of their inbox, on one gateway."""

    def __init__(self, stack: PulseStack, token: str, gateway: str = "gateway") -> None:
        self.stack = stack
        self.token = token
        self.gateway = gateway

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.request(
                method,
                self.stack[self.gateway].url(path),
                headers=bearer(self.token),
                **kwargs,
            )

    async def unread(self) -> dict[str, int]:
        response = await self.request("GET", f"{INBOX}/unread")
        assert response.status_code == 200, response.text
        answer: dict[str, int] = response.json()
        return answer

    async def items(self, **params: Any) -> dict[str, Any]:
        response = await self.request("GET", INBOX, params=params)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def mark(self, change: str, **body: Any) -> httpx.Response:
        return await self.request("POST", f"{INBOX}/mark", json={"change": change, **body})


async def send(stack: PulseStack, **body: Any) -> httpx.Response:
    """An admin sends a notification."""
    async with httpx.AsyncClient() as client:
        return await client.post(
            stack["gateway"].url(INBOX), headers=bearer(await stack.token()), json=body
        )


@contextlib.asynccontextmanager
async def device(
    stack: PulseStack, token: str, gateway: str, **subscribe: Any
) -> AsyncIterator[tuple[Socket, dict[str, Any]]]:
    """A socket on ``gateway`` subscribed to its user's ``notifications`` channel."""
    async with websockets.connect(ws_url(stack, gateway)) as connection:
        socket = Socket(connection)
        await socket.send(type="auth", token=token)
        assert (await socket.receive())["type"] == "ready"
        await socket.send(type="subscribe", channel="notifications", **subscribe)
        subscribed = await socket.until("subscribed")
        yield socket, subscribed


@pytest.fixture
async def pulse(make_stack: Any) -> PulseStack:
    stack: PulseStack = make_stack()
    stack.start(SERVICES)
    stack.start_replica("gateway", "gateway2")
    return stack


async def test_two_devices_on_two_gateways_agree_and_a_later_one_sees_the_count(
    pulse: PulseStack,
) -> None:
    user_id, token = await create_user(pulse, "reader@pulse.test", "user")
    async with (
        device(pulse, token, "gateway") as (laptop, _),
        device(pulse, token, "gateway2") as (phone, _),
    ):
        sent = await send(
            pulse,
            recipients={"users": [user_id]},
            kind="warning",
            title="Disk almost full",
            body="host1 / at 93%",
            link={"kind": "series", "target": "host1:disk"},
        )
        assert sent.status_code == 201, sent.text
        assert sent.json()["recipients"] == 1
        [notification_id] = sent.json()["ids"]
        on_laptop = await laptop.until("notification")
        on_phone = await phone.until("notification")
        for frame in (on_laptop, on_phone):
            assert frame["change"] == "created"
            assert frame["unread"] == 1
            assert frame["notification"]["id"] == notification_id
            assert frame["notification"]["title"] == "Disk almost full"
            assert frame["notification"]["link"] == {"kind": "series", "target": "host1:disk"}
            assert frame["notification"]["source"] == "admin"
        assert on_laptop["version"] == on_phone["version"]

        marked = await Inbox(pulse, token, "gateway2").mark("read", ids=[notification_id])
        assert marked.status_code == 200, marked.text
        assert marked.json()["unread"] == 0
        assert marked.json()["changed"] == [notification_id]
        for socket in (laptop, phone):
            read = await socket.until("notification")
            assert (read["change"], read["ids"], read["unread"]) == ("read", [notification_id], 0)
            assert read["version"] == marked.json()["version"]
        last_seq = read["seq"]

    # A third device, later: the count from REST, with the version it is of.
    count = await Inbox(pulse, token).unread()
    assert count == {"unread": 0, "version": marked.json()["version"], "changed": []}
    # A device that was away resumes from its last sequence and gets what it missed.
    await send(pulse, recipients={"users": [user_id]}, title="While you were away")
    async with device(pulse, token, "gateway2", resume_from=last_seq) as (back, subscribed):
        assert subscribed["seq"] == last_seq
        missed = await back.until("notification")
        assert missed["change"] == "created"
        assert missed["notification"]["title"] == "While you were away"
        assert missed["unread"] == 1


async def test_the_channel_refuses_history_and_a_rate_cap(pulse: PulseStack) -> None:
    """The inbox's past is the REST list (and ``resume_from``); a rate cap would merge changes
    away: both are refused with ``unsupported_option``, and the socket subscribes after."""
    user_id, token = await create_user(pulse, "options@pulse.test", "user")
    async with websockets.connect(ws_url(pulse, "gateway")) as connection:
        socket = Socket(connection)
        await socket.send(type="auth", token=token)
        assert (await socket.receive())["type"] == "ready"
        for option in ({"history": {"minutes": 5}}, {"max_rate": 1}):
            await socket.send(type="subscribe", channel="notifications", **option)
            refused = await socket.receive()
            assert (refused["type"], refused.get("code")) == ("error", "unsupported_option"), (
                option,
                refused,
            )
        await socket.send(type="subscribe", channel="notifications")
        await socket.until("subscribed")
        sent = await send(pulse, recipients={"users": [user_id]}, title="Still live")
        assert sent.status_code == 201, sent.text
        assert (await socket.until("notification"))["notification"]["title"] == "Still live"


async def test_nobody_reads_or_changes_another_users_notifications(pulse: PulseStack) -> None:
    alice_id, alice = await create_user(pulse, "alice@pulse.test", "user")
    _, bob = await create_user(pulse, "bob@pulse.test", "student")
    sent = await send(pulse, recipients={"users": [alice_id]}, title="For Alice only")
    [alice_note] = sent.json()["ids"]
    bobs = Inbox(pulse, bob)
    assert (await bobs.items())["items"] == []
    for change in ("read", "archived", "seen"):
        refused = await bobs.mark(change, ids=[alice_note])
        assert refused.status_code == 200, refused.text
        assert refused.json()["changed"] == []
    everything = await bobs.mark("read", all=True)
    assert everything.json()["changed"] == []
    alices = await Inbox(pulse, alice).items(state="unread")
    assert [item["id"] for item in alices["items"]] == [alice_note]
    assert alices["items"][0]["read_at"] is None
    assert alices["unread"] == 1
    # Bob's socket on the notifications channel hears nothing of Alice's inbox.
    async with device(pulse, bob, "gateway") as (socket, _):
        await send(pulse, recipients={"users": [alice_id]}, title="Alice again")
        await Inbox(pulse, alice).mark("read", all=True)
        with pytest.raises(TimeoutError):
            await socket.until("notification", within_s=2)


async def test_roles_and_everyone_are_expanded_when_sent(pulse: PulseStack) -> None:
    student_id, student = await create_user(pulse, "s1@pulse.test", "student")
    _, instructor = await create_user(pulse, "i1@pulse.test", "instructor")
    students = await send(pulse, recipients={"roles": ["student"]}, title="Quiz tomorrow")
    assert students.status_code == 201, students.text
    assert students.json()["recipients"] == 1
    everyone = await send(pulse, recipients={"everyone": True}, title="Maintenance at 6")
    assert everyone.json()["recipients"] == 3  # the admin, the student, the instructor
    assert (await Inbox(pulse, student).unread())["unread"] == 2
    assert (await Inbox(pulse, instructor).unread())["unread"] == 1
    assert student_id


BAD_NOTIFICATIONS = {
    "unknown-user": (
        {"recipients": {"users": ["00000000-0000-0000-0000-000000000000"]}, "title": "x"},
        "unknown_recipient",
    ),
    "no-one": ({"recipients": {}, "title": "x"}, "invalid_parameter"),
    "empty-title": ({"recipients": {"everyone": True}, "title": ""}, "invalid_parameter"),
    "long-body": (
        {"recipients": {"everyone": True}, "title": "x", "body": "b" * 4001},
        "invalid_parameter",
    ),
    "bad-kind": (
        {"recipients": {"everyone": True}, "title": "x", "kind": "panic"},
        "invalid_parameter",
    ),
    "nul": ({"recipients": {"everyone": True}, "title": "x\u0000"}, "invalid_parameter"),
    "bad-role": ({"recipients": {"roles": ["wizard"]}, "title": "x"}, "invalid_parameter"),
}


async def test_bad_notifications_are_refused_with_stable_codes(pulse: PulseStack) -> None:
    for case, (body, code) in BAD_NOTIFICATIONS.items():
        refused = await send(pulse, **body)
        assert refused.status_code == 400, (case, refused.text)
        assert refused.json()["code"] == code, (case, refused.text)
    assert (await Inbox(pulse, await pulse.token()).items())["items"] == []  # none was sent


async def test_bad_marks_and_pages_are_refused(pulse: PulseStack) -> None:
    _, token = await create_user(pulse, "m@pulse.test", "user")
    inbox = Inbox(pulse, token)
    assert (await inbox.mark("read")).status_code == 400  # neither ids nor all
    assert (await inbox.mark("read", ids=[1], all=True)).status_code == 400
    assert (await inbox.mark("shredded", ids=[1])).status_code == 400
    assert (await inbox.mark("read", ids=[0])).status_code == 400
    assert (await inbox.request("GET", INBOX, params={"limit": 0})).status_code == 400
    assert (await inbox.request("GET", INBOX, params={"state": "gone"})).status_code == 400
    assert (await inbox.request("GET", INBOX, params={"before_id": "x"})).status_code == 400


async def test_pages_walk_the_inbox_newest_first(pulse: PulseStack) -> None:
    user_id, token = await create_user(pulse, "p@pulse.test", "user")
    ids = []
    for n in range(5):
        sent = await send(pulse, recipients={"users": [user_id]}, title=f"n{n}")
        ids.extend(sent.json()["ids"])
    inbox = Inbox(pulse, token)
    first = await inbox.items(limit=2)
    assert [item["title"] for item in first["items"]] == ["n4", "n3"]
    second = await inbox.items(limit=2, before_id=first["next_before_id"])
    third = await inbox.items(limit=2, before_id=second["next_before_id"])
    walked = [item["id"] for page in (first, second, third) for item in page["items"]]
    assert walked == sorted(ids, reverse=True)
    assert third["next_before_id"] is None
    archived = await inbox.mark("archived", ids=ids[:2])
    assert archived.json()["unread"] == 3
    assert [i["id"] for i in (await inbox.items(state="archived"))["items"]] == ids[1::-1]
    assert len((await inbox.items())["items"]) == 3
