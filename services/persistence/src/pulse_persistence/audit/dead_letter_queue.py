"""``rpc.audit.deadletters``: the dead letters admins list, show and discard (their replay:
:mod:`.replay`). A letter is ``pending`` until someone decides: ``replayed`` (sent again to
where it came from) or ``discarded``; either is final, and a letter is changed by one request
only: two admins at once change it once, the other is told it was skipped.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from pulse_contracts import RpcError
from pulse_contracts.audit import (
    DeadLetterPage,
    DeadLettersChanged,
    DeadLetterShown,
    DiscardDeadLetters,
    ListDeadLetters,
    ShowDeadLetter,
    StoredDeadLetter,
)
from pulse_runtime.database import acquired

from .access_search import json_value
from .cursor import cursor_after, position_of
from .filters import Where, like_prefix
from .letter_preview import PREVIEW_BYTES, escaped_text, shown_headers

LETTER_COLUMNS = f"""
id, origin, reason, trace_id, status, received_at, length(data) AS size,
substring(data FROM 1 FOR {PREVIEW_BYTES}) AS head, headers, replays, replayed_at, replayed_by,
discarded_at, discarded_by
"""

_DISCARD = """
UPDATE audit_dead_letters SET status = 'discarded', discarded_at = now(), discarded_by = $2
WHERE id = any($1::bigint[]) AND status = 'pending'
RETURNING id
"""


async def list_letters(pool: asyncpg.Pool, request: ListDeadLetters) -> DeadLetterPage:
    """Newest first (by id); ``origin`` is a prefix of the subject. Raises
    :class:`~.cursor.BadCursor`."""
    where = Where()
    if request.status is not None:
        where.add("status = {}", request.status)
    if request.origin is not None:
        where.add("origin LIKE {} ESCAPE '\\'", like_prefix(request.origin))
    if request.trace_id is not None:
        where.add("trace_id = {}", request.trace_id)
    if request.cursor is not None:
        _, after_id = position_of("deadletters", request.cursor)
        where.add("id < {}", after_id)
    query = (
        f"SELECT {LETTER_COLUMNS} FROM audit_dead_letters WHERE {where.sql()}"
        f" ORDER BY id DESC LIMIT {where.param(request.limit + 1)}"
    )
    async with acquired(pool) as conn:
        rows = await conn.fetch(query, *where.values)
    items = [stored_letter(row) for row in rows[: request.limit]]
    more = len(rows) > request.limit
    return DeadLetterPage(
        items=items,
        next_cursor=cursor_after("deadletters", items[-1].id) if more else None,
    )


async def show_letter(pool: asyncpg.Pool, request: ShowDeadLetter) -> DeadLetterShown | RpcError:
    async with acquired(pool) as conn:
        row = await conn.fetchrow(
            f"SELECT {LETTER_COLUMNS}, data FROM audit_dead_letters WHERE id = $1", request.id
        )
    if row is None:
        return RpcError(code="dead_letter_not_found", message=f"no dead letter {request.id}")
    return DeadLetterShown(letter=stored_letter(row, data=row["data"]))


async def discard_letters(pool: asyncpg.Pool, request: DiscardDeadLetters) -> DeadLettersChanged:
    ids = distinct(request.ids)
    async with acquired(pool) as conn:
        rows = await conn.fetch(_DISCARD, ids, request.by)
    return changed_and_skipped(ids, {row["id"] for row in rows})


def stored_letter(row: asyncpg.Record, *, data: bytes | None = None) -> StoredDeadLetter:
    headers: Any = json_value(row["headers"]) or {}
    return StoredDeadLetter(
        id=row["id"],
        origin=row["origin"],
        reason=row["reason"],
        trace_id=row["trace_id"],
        status=row["status"],
        received_at=row["received_at"],
        size=row["size"],
        preview=escaped_text(row["head"]),
        headers=shown_headers(headers),
        data=data,
        replays=row["replays"],
        replayed_at=row["replayed_at"],
        replayed_by=row["replayed_by"],
        discarded_at=row["discarded_at"],
        discarded_by=row["discarded_by"],
    )


def distinct(ids: list[int]) -> list[int]:
    """``ids`` once each, in the order given."""
    return list(dict.fromkeys(ids))


def changed_and_skipped(ids: list[int], changed: set[int]) -> DeadLettersChanged:
    return DeadLettersChanged(
        changed=[i for i in ids if i in changed], skipped=[i for i in ids if i not in changed]
    )
