"""The notifier spoken to over NATS as the gateway and the alerts service do, users made
straight in auth's table (thousands in one COPY), and the NOTIFICATIONS stream read back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeoutError
from pulse_contracts import Codec, subjects
from pulse_contracts.notifications import (
    NOTIFY_VERBS,
    InboxChange,
    NotifyReply,
    NotifyRequest,
)

CODEC = Codec()
_REPLY = msgspec.msgpack.Decoder(NotifyReply)
_CHANGE = msgspec.msgpack.Decoder(InboxChange)


async def notify(nc: Client, request: NotifyRequest, timeout_s: float = 30.0) -> Any:
    reply = await nc.request(
        subjects.notify_rpc(NOTIFY_VERBS[type(request)]), CODEC.pack(request), timeout=timeout_s
    )
    return _REPLY.decode(reply.data)


async def add_users(
    database_url: str, count: int, role: str = "user", *, disabled: bool = False
) -> list[str]:
    """``count`` accounts in ``auth.users`` (auth must have migrated), in one COPY: they
    cannot log in (no real hash); the notifier only needs them to exist."""
    ids = [uuid.uuid4() for _ in range(count)]
    now = datetime.now(UTC)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.copy_records_to_table(
            "users",
            schema_name="auth",
            columns=[
                "id",
                "email",
                "password_hash",
                "role",
                "disabled",
                "created_at",
                "updated_at",
            ],
            records=[
                (user_id, f"{user_id}@pulse.test", "-", role, disabled, now, now) for user_id in ids
            ],
        )
    finally:
        await conn.close()
    return [str(user_id) for user_id in ids]


class StoredChange(msgspec.Struct, frozen=True):
    subject: str
    message_id: str
    change: InboxChange


async def stored_changes(nc: Client) -> list[StoredChange]:
    """Every message in NOTIFICATIONS, in stream order."""
    js = nc.jetstream()
    info = await js.stream_info(subjects.NOTIFICATIONS_STREAM)
    total = info.state.messages
    sub = await js.pull_subscribe(
        subjects.NOTIFICATIONS_SUBJECTS, stream=subjects.NOTIFICATIONS_STREAM
    )
    found: list[StoredChange] = []
    try:
        while len(found) < total:
            try:
                batch = await sub.fetch(batch=min(1000, total - len(found)), timeout=5)
            except NatsTimeoutError:
                break
            for msg in batch:
                found.append(
                    StoredChange(
                        msg.subject,
                        (msg.headers or {}).get("Nats-Msg-Id", ""),
                        _CHANGE.decode(msg.data),
                    )
                )
                await msg.ack()
    finally:
        await sub.unsubscribe()
    return found


async def inbox_versions(database_url: str) -> dict[str, tuple[int, int]]:
    """Every inbox's (unread, version), read straight from ``notify.inboxes``."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT user_id, unread, version FROM notify.inboxes")
    finally:
        await conn.close()
    return {row["user_id"]: (row["unread"], row["version"]) for row in rows}


async def outbox_rows(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM notify.outbox")
    finally:
        await conn.close()
    return count
