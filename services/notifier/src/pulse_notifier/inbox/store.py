"""The ``notify.notifications`` and ``notify.inboxes`` rows, each change in one transaction
with its outbox rows.

Every change takes the user's counter row first (an upsert, or ``FOR UPDATE``) and writes its
outbox rows after it: a user's changes are serialised there, so their versions follow commit
order and their outbox ids follow their versions (see :mod:`pulse_notifier.outbox.publisher`).
A notification to many users takes their counter rows in user-id order, so two at once never
wait for each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import asyncpg
import msgspec
from pulse_contracts.notifications import (
    CreateNotification,
    InboxChange,
    InboxState,
    Link,
    Notification,
)
from pulse_runtime.database import acquired

from pulse_notifier.outbox.store import Encode, enqueue

from .rules import (
    MARK_RULES,
    STATE_FILTERS,
    MarkChange,
    created_change,
    cut_page,
    marked_change,
    unread_step,
)

_COLUMNS = (
    "id, recipient, kind, title, body, link, source, created_at, read_at, seen_at, archived_at"
)
_LINK = msgspec.json.Decoder(Link)
_JSON = msgspec.json.Encoder()


def _notification(row: asyncpg.Record) -> Notification:
    link = row["link"]
    return Notification(
        id=row["id"],
        recipient=row["recipient"],
        kind=row["kind"],
        title=row["title"],
        body=row["body"],
        link=_LINK.decode(link) if link is not None else None,
        source=row["source"],
        created_at=row["created_at"],
        read_at=row["read_at"],
        seen_at=row["seen_at"],
        archived_at=row["archived_at"],
    )


class Count(NamedTuple):
    unread: int
    version: int


class MarkOutcome(NamedTuple):
    after: Count
    changed: list[int]


class InboxStore:
    def __init__(self, pool: asyncpg.Pool, encode: Encode, committed: Callable[[], None]) -> None:
        """``encode`` makes an outbox payload of a change; ``committed`` is called after each
        transaction that wrote outbox rows (it wakes the publisher)."""
        self._pool = pool
        self._encode = encode
        self._committed = committed

    async def create(
        self, recipients: list[str], request: CreateNotification
    ) -> list[Notification]:
        """One notification per recipient, except those who already have one with the
        request's ``dedupe_key``; the new ones, with one change each in the outbox.

        Three statements however many recipients: the rows (``INSERT … SELECT unnest``), the
        counters (one upsert), the outbox (one insert)."""
        recipients = sorted(set(recipients))
        link = _JSON.encode(request.link).decode() if request.link is not None else None
        async with acquired(self._pool) as conn, conn.transaction():
            rows = await conn.fetch(
                f"INSERT INTO notify.notifications"
                f" (recipient, kind, title, body, link, source, created_by, dedupe_key)"
                f" SELECT r, $2, $3, $4, $5::jsonb, $6, $7, $8"
                f" FROM unnest($1::text[]) AS r ORDER BY r"
                f" ON CONFLICT (recipient, dedupe_key) DO NOTHING"
                f" RETURNING {_COLUMNS}",
                recipients,
                request.kind,
                request.title,
                request.body,
                link,
                request.source,
                request.created_by,
                request.dedupe_key,
            )
            if not rows:
                return []
            created = sorted((_notification(row) for row in rows), key=lambda n: n.recipient)
            counts = await conn.fetch(
                "INSERT INTO notify.inboxes AS i (user_id, unread, version)"
                " SELECT u, 1, 1 FROM unnest($1::text[]) AS u ORDER BY u"
                " ON CONFLICT (user_id) DO UPDATE"
                " SET unread = i.unread + 1, version = i.version + 1"
                " RETURNING user_id, unread, version",
                [notification.recipient for notification in created],
            )
            after = {row["user_id"]: Count(row["unread"], row["version"]) for row in counts}
            changes = [created_change(n, *after[n.recipient]) for n in sorted(created, key=_by_id)]
            await enqueue(conn, changes, self._encode)
        self._committed()
        return sorted(created, key=_by_id)

    async def page(
        self, user_id: str, state: InboxState, before_id: int | None, limit: int
    ) -> tuple[list[Notification], int | None, Count]:
        """A page of the user's own notifications, newest first, the next page's cursor, and
        the count (read in the same snapshot, so the page and the count agree)."""
        async with (
            acquired(self._pool) as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM notify.notifications"
                f" WHERE recipient = $1 AND {STATE_FILTERS[state]}"
                f" AND ($2::bigint IS NULL OR id < $2::bigint)"
                f" ORDER BY id DESC LIMIT $3",
                user_id,
                before_id,
                limit + 1,
            )
            count = await _count(conn, user_id)
        items, next_before_id = cut_page([_notification(row) for row in rows], limit)
        return items, next_before_id, count

    async def count(self, user_id: str) -> Count:
        async with acquired(self._pool) as conn:
            return await _count(conn, user_id)

    async def mark(
        self, user_id: str, change: MarkChange, ids: list[int], every: bool
    ) -> MarkOutcome:
        """Change the user's own notifications ``ids`` (or all of them): only rows of theirs
        that are not yet in that state change. A request that changes something raises the
        version once and publishes one change with the ids it changed; one that changes
        nothing publishes nothing."""
        rule = MARK_RULES[change]
        async with acquired(self._pool) as conn, conn.transaction():
            locked = await conn.fetchrow(
                "SELECT unread, version FROM notify.inboxes WHERE user_id = $1 FOR UPDATE",
                user_id,
            )
            if locked is None:  # no notification was ever theirs
                return MarkOutcome(Count(0, 0), [])
            rows = await conn.fetch(
                f"UPDATE notify.notifications SET {rule.assignment}"
                f" WHERE recipient = $1 AND {rule.pending}"
                f" AND ($2::boolean OR id = any($3::bigint[]))"
                f" RETURNING id, {rule.counted} AS counted",
                user_id,
                every,
                ids,
            )
            if not rows:
                return MarkOutcome(Count(locked["unread"], locked["version"]), [])
            changed = sorted(row["id"] for row in rows)
            step = unread_step(change, [row["counted"] for row in rows])
            after = await conn.fetchrow(
                "UPDATE notify.inboxes SET unread = unread + $2, version = version + 1"
                " WHERE user_id = $1 RETURNING unread, version, now() AS at",
                user_id,
                step,
            )
            assert after is not None
            message: InboxChange = marked_change(
                change,
                user_id,
                changed,
                unread=after["unread"],
                version=after["version"],
                at=after["at"],
            )
            await enqueue(conn, [message], self._encode)
        self._committed()
        return MarkOutcome(Count(after["unread"], after["version"]), changed)


async def _count(conn: asyncpg.Connection, user_id: str) -> Count:
    row = await conn.fetchrow(
        "SELECT unread, version FROM notify.inboxes WHERE user_id = $1", user_id
    )
    return Count(0, 0) if row is None else Count(row["unread"], row["version"])


def _by_id(notification: Notification) -> int:
    return notification.id
