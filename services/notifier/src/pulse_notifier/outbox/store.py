"""The ``notify.outbox`` rows: written in the transaction of each change, read and deleted by
the publisher."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import asyncpg
from pulse_contracts import subjects
from pulse_contracts.notifications import InboxChange

Encode = Callable[[InboxChange], bytes]


class OutboxRow(NamedTuple):
    id: int
    subject: str
    payload: bytes


async def enqueue(conn: asyncpg.Connection, changes: Sequence[InboxChange], encode: Encode) -> None:
    """Add ``changes`` to the outbox, in this order, on ``conn`` (inside the caller's
    transaction: the change and its message commit together, or neither does)."""
    if not changes:
        return
    await conn.execute(
        "INSERT INTO notify.outbox (subject, payload)"
        " SELECT subject, payload"
        " FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS c (subject, payload, n)"
        " ORDER BY n",
        [subjects.notifications_subject(change.user_id) for change in changes],
        [encode(change) for change in changes],
    )


async def oldest(conn: asyncpg.Connection, limit: int) -> list[OutboxRow]:
    rows = await conn.fetch(
        "SELECT id, subject, payload FROM notify.outbox ORDER BY id LIMIT $1", limit
    )
    return [OutboxRow(row["id"], row["subject"], bytes(row["payload"])) for row in rows]


async def delete(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    await conn.execute("DELETE FROM notify.outbox WHERE id = any($1::bigint[])", list(ids))


async def backlog(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM notify.outbox")
    return count
