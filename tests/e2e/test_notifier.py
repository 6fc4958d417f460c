"""The notifier with real processes: auth and the notifier on a real nats-server and
PostgreSQL, asked over ``rpc.notify.*`` as the gateway and the alerts service ask, its changes
read back from the NOTIFICATIONS stream."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import nats
import pytest
from nats.aio.client import Client
from pulse_contracts import RpcError, subjects
from pulse_contracts.audit import TaskStep
from pulse_contracts.notifications import (
    Created,
    CreateNotification,
    GetUnread,
    InboxCount,
    Link,
    ListNotifications,
    MarkNotifications,
    NotificationPage,
    Recipients,
)
from pulse_runtime.audit import RecordList, TaskLog

from tests.support.notifications import (
    CODEC,
    StoredChange,
    add_users,
    inbox_versions,
    notify,
    outbox_rows,
    stored_changes,
)
from tests.support.stack import PulseStack, eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def notifier(make_stack: Any) -> AsyncIterator[tuple[PulseStack, Client]]:
    stack: PulseStack = make_stack()
    stack.start(["auth"])  # migrated before users are added straight to its table
    stack.start(["notifier"])
    nc = await nats.connect(stack.nats_url)
    try:
        yield stack, nc
    finally:
        await nc.drain()


def to(*users: str) -> Recipients:
    return Recipients(users=list(users))


def by_user(changes: list[StoredChange]) -> dict[str, list[StoredChange]]:
    grouped: dict[str, list[StoredChange]] = defaultdict(list)
    for stored in changes:
        grouped[stored.change.user_id].append(stored)
    return grouped


async def published(nc: Client, total: int, within_s: float = 30.0) -> list[StoredChange]:
    """The stream's messages, once it holds ``total`` (or whatever it holds by then)."""
    js = nc.jetstream()

    async def enough() -> bool:
        info = await js.stream_info(subjects.NOTIFICATIONS_STREAM)
        return bool(info.state.messages >= total)

    await eventually(enough, within_s=within_s, interval_s=0.05)
    return await stored_changes(nc)


def assert_exactly_once_in_order(
    changes: list[StoredChange], inboxes: dict[str, tuple[int, int]]
) -> None:
    """Each user's changes in the stream are versions 1 … their inbox's version, each once,
    in order, the last one carrying their unread count; and no message id twice."""
    ids = [stored.message_id for stored in changes]
    assert len(ids) == len(set(ids)), "a message id twice"
    assert all(message_id.startswith("notify-") for message_id in ids)
    grouped = by_user(changes)
    assert set(grouped) == set(inboxes)
    for user_id, (unread, version) in inboxes.items():
        versions = [stored.change.version for stored in grouped[user_id]]
        assert versions == list(range(1, version + 1)), user_id
        assert grouped[user_id][-1].change.unread == unread
        assert all(stored.subject == f"notifications.{user_id}" for stored in grouped[user_id])


async def test_a_notification_reaches_its_users_only_with_the_right_count(
    notifier: tuple[PulseStack, Client],
) -> None:
    stack, nc = notifier
    alice, bob = await add_users(stack.database_url, 2)
    link = Link(kind="series", target="generator:cpu")
    created = await notify(
        nc,
        CreateNotification(
            recipients=to(alice), kind="warning", title="cpu high", body="87%", link=link
        ),
    )
    assert isinstance(created, Created)
    assert created.recipients == 1
    assert len(created.ids) == 1
    page = await notify(nc, ListNotifications(user_id=alice))
    assert isinstance(page, NotificationPage)
    assert [n.id for n in page.items] == created.ids
    item = page.items[0]
    assert (item.kind, item.title, item.body, item.link, item.source) == (
        "warning",
        "cpu high",
        "87%",
        link,
        "admin",
    )
    assert (page.unread, page.version, page.next_before_id) == (1, 1, None)
    assert await notify(nc, GetUnread(user_id=alice)) == InboxCount(unread=1, version=1)
    other = await notify(nc, ListNotifications(user_id=bob))
    assert (other.items, other.unread, other.version) == ([], 0, 0)

    changes = await published(nc, 1)
    assert len(changes) == 1
    change = changes[0].change
    assert changes[0].subject == f"notifications.{alice}"
    assert changes[0].message_id == "notify-1"
    assert (change.change, change.unread, change.version) == ("created", 1, 1)
    assert change.notification == item
    assert await eventually(lambda: _empty_outbox(stack))


async def _empty_outbox(stack: PulseStack) -> bool:
    return await outbox_rows(stack.database_url) == 0


async def test_bad_requests_and_recipients_get_stable_codes(
    notifier: tuple[PulseStack, Client],
) -> None:
    stack, nc = notifier
    [user] = await add_users(stack.database_url, 1)
    [disabled] = await add_users(stack.database_url, 1, disabled=True)
    unknown = await notify(
        nc,
        CreateNotification(recipients=to(user, "9b1a6a3e-0000-4000-8000-000000000000"), title="x"),
    )
    assert isinstance(unknown, RpcError)
    assert unknown.code == "unknown_recipient"
    not_an_id = await notify(nc, CreateNotification(recipients=to("robert'); drop"), title="x"))
    assert not_an_id.code == "unknown_recipient"
    nobody = await notify(nc, CreateNotification(recipients=Recipients(), title="x"))
    assert nobody.code == "no_recipients"
    only_disabled = await notify(nc, CreateNotification(recipients=to(disabled), title="x"))
    assert only_disabled.code == "no_recipients"
    skipped = await notify(nc, CreateNotification(recipients=to(user, disabled), title="x"))
    assert isinstance(skipped, Created)
    assert skipped.recipients == 1
    for subject, data in (
        (subjects.notify_rpc("create"), b"\xc1 not msgpack"),
        (subjects.notify_rpc("create"), CODEC.pack({"type": "create", "title": ""})),
        (
            subjects.notify_rpc("list"),
            CODEC.pack(CreateNotification(recipients=to(user), title="x")),
        ),
        (subjects.notify_rpc("unread"), CODEC.pack({"type": "unread", "user_id": "a\x00b"})),
        (
            subjects.notify_rpc("mark"),
            CODEC.pack({"type": "mark", "user_id": user, "change": "read"}),
        ),
    ):
        reply = CODEC.auth_reply.decode((await nc.request(subject, data, timeout=10)).data)
        assert isinstance(reply, RpcError), subject
        assert reply.code == "bad_request", (subject, reply)


async def test_roles_everyone_and_a_repeated_dedupe_key(
    notifier: tuple[PulseStack, Client],
) -> None:
    stack, nc = notifier
    instructors = await add_users(stack.database_url, 3, role="instructor")
    students = await add_users(stack.database_url, 4, role="student")
    await add_users(stack.database_url, 2, role="instructor", disabled=True)
    to_role = await notify(
        nc, CreateNotification(recipients=Recipients(roles=["instructor"]), title="class starts")
    )
    assert to_role.recipients == 3
    for user in instructors:
        assert (await notify(nc, GetUnread(user_id=user))).unread == 1
    for user in students:
        assert (await notify(nc, GetUnread(user_id=user))).unread == 0

    alert = CreateNotification(
        recipients=Recipients(users=[students[0]], roles=["instructor"]),
        title="cpu above 90% for 5 min",
        source="rule",
        dedupe_key="rule-7:fired:1",
    )
    first = await notify(nc, alert)
    again = await notify(nc, alert)  # a retried alert: nothing new, no change
    assert (first.recipients, len(first.ids)) == (4, 4)
    assert (again.recipients, again.ids) == (4, [])
    assert (await notify(nc, GetUnread(user_id=students[0]))) == InboxCount(unread=1, version=1)
    assert (await notify(nc, GetUnread(user_id=instructors[0]))) == InboxCount(unread=2, version=2)

    admin_count = 1  # the first admin auth created
    everyone = await notify(
        nc, CreateNotification(recipients=Recipients(everyone=True), title="hi")
    )
    assert everyone.recipients == 3 + 4 + admin_count
    inboxes = await inbox_versions(stack.database_url)
    changes = await published(nc, 3 + 4 + 8)
    assert len(changes) == 15
    assert_exactly_once_in_order(changes, inboxes)


async def test_list_filters_pages_and_marks_of_ones_own_only(
    notifier: tuple[PulseStack, Client],
) -> None:
    stack, nc = notifier
    alice, bob = await add_users(stack.database_url, 2)
    ids = []
    for n in range(6):
        created = await notify(nc, CreateNotification(recipients=to(alice, bob), title=f"n{n}"))
        ids.extend(created.ids)
    alices = [n.id for n in (await notify(nc, ListNotifications(user_id=alice))).items]
    bobs = [n.id for n in (await notify(nc, ListNotifications(user_id=bob))).items]
    assert set(alices) | set(bobs) == set(ids)
    assert alices == sorted(alices, reverse=True)

    # Bob tries Alice's notifications: nothing of hers changes, and nothing of his either.
    stolen = await notify(nc, MarkNotifications(user_id=bob, change="read", ids=alices))
    assert stolen == InboxCount(unread=6, version=6, changed=[])
    assert await notify(nc, GetUnread(user_id=alice)) == InboxCount(unread=6, version=6)

    read = await notify(nc, MarkNotifications(user_id=alice, change="read", ids=alices[:2]))
    assert read == InboxCount(unread=4, version=7, changed=sorted(alices[:2]))
    twice = await notify(nc, MarkNotifications(user_id=alice, change="read", ids=alices[:2]))
    assert twice == InboxCount(unread=4, version=7, changed=[])
    archived = await notify(
        nc, MarkNotifications(user_id=alice, change="archived", ids=[alices[1], alices[2]])
    )
    assert archived == InboxCount(unread=3, version=8, changed=sorted(alices[1:3]))
    seen = await notify(nc, MarkNotifications(user_id=alice, change="seen", all=True))
    assert (seen.unread, seen.version, len(seen.changed)) == (3, 9, 6)
    unread_again = await notify(
        nc, MarkNotifications(user_id=alice, change="unread", ids=alices[:2])
    )
    # alices[1] is archived: read again, it still does not count.
    assert unread_again == InboxCount(unread=4, version=10, changed=sorted(alices[:2]))

    async def listed(state: Any, **more: Any) -> list[int]:
        page = await notify(nc, ListNotifications(user_id=alice, state=state, **more))
        return [n.id for n in page.items]

    assert await listed("archived") == [alices[1], alices[2]]
    assert await listed("unread") == [alices[0], *alices[3:]]
    assert await listed("all") == [alices[0], *alices[3:]]
    assert await listed("read") == []
    first = await notify(nc, ListNotifications(user_id=alice, state="all", limit=2))
    assert [n.id for n in first.items] == [alices[0], alices[3]]
    second = await notify(
        nc, ListNotifications(user_id=alice, state="all", limit=2, before_id=first.next_before_id)
    )
    assert [n.id for n in second.items] == alices[4:6]
    assert second.next_before_id is None

    everything = await notify(nc, MarkNotifications(user_id=alice, change="read", all=True))
    assert (everything.unread, everything.version) == (0, 11)
    assert await notify(nc, GetUnread(user_id=bob)) == InboxCount(unread=6, version=6)

    changes = await published(nc, 17)
    assert_exactly_once_in_order(changes, await inbox_versions(stack.database_url))
    marks = [s.change for s in by_user(changes)[alice] if s.change.change != "created"]
    assert [(m.change, m.ids, m.unread) for m in marks] == [
        ("read", sorted(alices[:2]), 4),
        ("archived", sorted(alices[1:3]), 3),
        ("seen", sorted(alices), 3),
        ("unread", sorted(alices[:2]), 4),
        # All: the archived ones too (unread or not, they do not count).
        ("read", sorted(alices), 0),
    ]


async def test_a_notification_to_ten_thousand_users(notifier: tuple[PulseStack, Client]) -> None:
    stack, nc = notifier
    await add_users(stack.database_url, 10_000)
    started = time.monotonic()
    created = await notify(nc, CreateNotification(recipients=Recipients(everyone=True), title="hi"))
    answered_s = time.monotonic() - started
    assert created.recipients == 10_001  # and the first admin
    assert len(created.ids) == 1000
    changes = await published(nc, 10_001, within_s=60)
    delivered_s = time.monotonic() - started
    print(
        f"10,001 recipients: answered in {answered_s:.2f} s, in the stream in {delivered_s:.2f} s"
    )
    assert len(changes) == 10_001
    assert answered_s < 10
    assert {stored.change.version for stored in changes} == {1}
    assert await eventually(lambda: _empty_outbox(stack))


async def _create_until(
    nc: Client, users: list[str], stop: asyncio.Event, answered: list[int]
) -> None:
    """Creates, one after another, to a few users at a time, until ``stop``; failures (the
    notifier or NATS away) are expected and retried."""
    n = 0
    while not stop.is_set():
        chosen = [users[(n + k) % len(users)] for k in range(3)]
        try:
            reply = await notify(nc, CreateNotification(recipients=to(*chosen), title=f"#{n}"), 2)
        except Exception:
            await asyncio.sleep(0.05)
            continue
        if isinstance(reply, Created):
            answered.append(n)
        n += 1


async def test_the_notifier_killed_mid_stream_loses_and_doubles_nothing(
    notifier: tuple[PulseStack, Client],
) -> None:
    stack, nc = notifier
    users = await add_users(stack.database_url, 20)
    stop, answered = asyncio.Event(), list[int]()
    writers = [asyncio.create_task(_create_until(nc, users, stop, answered)) for _ in range(4)]
    await eventually(lambda: _answered(answered, 100), interval_s=0.02)
    stack["notifier"].kill()  # SIGKILL: commits, outbox rows and publishes cut anywhere
    killed_at = len(answered)
    stack["notifier"].start()
    stack["notifier"].wait_ready()
    await eventually(lambda: _answered(answered, killed_at + 100), interval_s=0.02)
    stop.set()
    await asyncio.gather(*writers)
    assert await eventually(lambda: _empty_outbox(stack))
    inboxes = await inbox_versions(stack.database_url)
    total = sum(version for _, version in inboxes.values())
    assert total >= len(answered) * 3
    changes = await published(nc, total)
    assert len(changes) == total
    assert_exactly_once_in_order(changes, inboxes)


async def _answered(answered: list[int], count: int) -> bool:
    return len(answered) >= count


async def test_nats_restarted_mid_stream_loses_nothing(
    notifier: tuple[PulseStack, Client],
) -> None:
    stack, nc = notifier
    users = await add_users(stack.database_url, 20)
    stop, answered = asyncio.Event(), list[int]()
    writers = [asyncio.create_task(_create_until(nc, users, stop, answered)) for _ in range(4)]
    await eventually(lambda: _answered(answered, 100), interval_s=0.02)
    stack.nats.stop()
    await asyncio.sleep(1.0)
    stack.nats.start()  # same port, same store: the stream survives
    before = len(answered)
    await eventually(lambda: _answered(answered, before + 100), within_s=60, interval_s=0.05)
    stop.set()
    await asyncio.gather(*writers)
    assert await eventually(lambda: _empty_outbox(stack), within_s=30)
    inboxes = await inbox_versions(stack.database_url)
    total = sum(version for _, version in inboxes.values())
    changes = await published(nc, total)
    assert len(changes) == total
    assert_exactly_once_in_order(changes, inboxes)


async def test_retention_deletes_old_archived_and_read_ones_only(
    notifier: tuple[PulseStack, Client],
) -> None:
    from pulse_notifier.retention import sweep  # noqa: PLC0415 - the sweep itself, on the stack's database

    stack, nc = notifier
    [user] = await add_users(stack.database_url, 1)
    ids = []
    for n in range(4):
        ids += (await notify(nc, CreateNotification(recipients=to(user), title=f"n{n}"))).ids
    await notify(nc, MarkNotifications(user_id=user, change="archived", ids=[ids[0], ids[1]]))
    await notify(nc, MarkNotifications(user_id=user, change="read", ids=[ids[2]]))
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute(
            "UPDATE notify.notifications SET archived_at = now() - interval '31 days'"
            " WHERE id = $1",
            ids[0],
        )
        await conn.execute(
            "UPDATE notify.notifications SET read_at = now() - interval '91 days' WHERE id = $1",
            ids[2],
        )
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=1)
    records = RecordList()
    tasks = TaskLog(records, service="notifier")
    try:
        assert await sweep(pool, tasks, archived_days=30, read_days=90) == {
            "archived": 1,
            "read": 1,
        }
        assert await sweep(pool, tasks, archived_days=30, read_days=0) == {
            "archived": 0,
            "read": 0,
        }
    finally:
        await pool.close()
    # Each round is a task, a step per kind with the rows it deleted.
    steps = [r for r in records if isinstance(r, TaskStep)]
    assert [(s.task_name, s.step_name, s.status, s.output_data) for s in steps] == [
        ("notifications_retention", "notifications_retention", "START", None),
        ("notifications_retention", "archived", "SUCCESS", {"rows_deleted": 1}),
        ("notifications_retention", "read", "SUCCESS", {"rows_deleted": 1}),
        ("notifications_retention", "notifications_retention", "SUCCESS", {"rows_deleted": 2}),
        ("notifications_retention", "notifications_retention", "START", None),
        ("notifications_retention", "archived", "SUCCESS", {"rows_deleted": 0}),
        ("notifications_retention", "notifications_retention", "SUCCESS", {"rows_deleted": 0}),
    ]
    assert steps[0].input_data == {"retention_days": {"archived": 30, "read": 90}}
    assert len({s.task_id for s in steps}) == 2
    left = await notify(nc, ListNotifications(user_id=user, state="all"))
    archived = await notify(nc, ListNotifications(user_id=user, state="archived"))
    assert [n.id for n in left.items] == [ids[3]]
    assert [n.id for n in archived.items] == [ids[1]]
    assert (left.unread, left.version) == (1, 6)
