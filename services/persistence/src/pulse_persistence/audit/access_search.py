"""``rpc.audit.access``: the access log searched by time range, status (a code or a class),
method, path (a prefix of the concrete path or of the route template), user, address, trace
and service; newest first, a page at a time (:mod:`.cursor`).

Plain SQL on ``audit_access`` (its ``(created_at DESC, id DESC)`` index serves the order and
the keyset), so it answers the same on PostgreSQL and TimescaleDB.
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg
import msgspec
from pulse_contracts.audit import AccessPage, SearchAccess, StoredAccess
from pulse_contracts.codecs import MSGPACK_INTS
from pulse_runtime.database import acquired

from .cursor import cursor_after, position_of
from .filters import Where, like_prefix, status_range, time_range

ACCESS_COLUMNS = """
id, trace_id, service, method, route, path, request_header, request_body, response_status,
response_body, duration_ms, ip_address, user_id, created_at, frames_in, frames_out, close_code
"""


async def search_access(pool: asyncpg.Pool, search: SearchAccess) -> AccessPage:
    """Raises :class:`~.cursor.BadCursor` or :class:`~.filters.BadFilter` for a request that
    cannot be answered."""
    where = Where()
    time_range(where, "created_at", search.since, search.until)
    if search.status is not None:
        low, high = status_range(search.status)
        where.add("response_status >= {} AND response_status < {}", low, high)
    if search.method is not None:
        where.add("method = {}", search.method.upper())
    if search.path is not None:
        pattern = like_prefix(search.path)
        where.add("(path LIKE {0} ESCAPE '\\' OR route LIKE {0} ESCAPE '\\')", pattern)
    for column in ("user_id", "ip_address", "trace_id", "service"):
        value = getattr(search, column)
        if value is not None:
            where.add(f"{column} = {{}}", value)
    if search.cursor is not None:
        at, row_id = position_of("access", search.cursor)
        where.add("(created_at, id) < ({}, {})", at, row_id)
    query = (
        f"SELECT {ACCESS_COLUMNS} FROM audit_access WHERE {where.sql()}"
        f" ORDER BY created_at DESC, id DESC LIMIT {where.param(search.limit + 1)}"
    )
    async with acquired(pool) as conn:
        rows = await conn.fetch(query, *where.values)
    items = [stored_access(row) for row in rows[: search.limit]]
    more = len(rows) > search.limit
    last = items[-1] if items and more else None
    return AccessPage(
        items=items,
        next_cursor=cursor_after("access", last.id, last.created_at) if last else None,
    )


def stored_access(row: asyncpg.Record) -> StoredAccess:
    return StoredAccess(
        id=row["id"],
        trace_id=row["trace_id"],
        service=row["service"],
        method=row["method"],
        route=row["route"],
        path=row["path"],
        request_header=json_value(row["request_header"]) or {},
        request_body=json_value(row["request_body"]),
        response_status=row["response_status"],
        response_body=json_value(row["response_body"]),
        duration_ms=row["duration_ms"],
        ip_address=row["ip_address"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        frames_in=row["frames_in"],
        frames_out=row["frames_out"],
        close_code=row["close_code"],
    )


_LONG_NUMBER = re.compile(r"\d{19}")
"""A run of digits that may be an integer msgpack cannot carry (beyond 64 bits)."""


def json_value(text: str | None) -> Any:
    """A ``jsonb`` column as asyncpg gives it (text), decoded; SQL NULL is None.

    ``jsonb`` keeps numbers as ``numeric`` and gives them back without an exponent: a body's
    ``1e300`` comes back as an integer of 301 digits, which the msgpack answer cannot carry.
    Such integers are given as their text, as the record itself keeps one (looked for only in
    text with a long run of digits)."""
    if text is None:
        return None
    value = msgspec.json.decode(text)
    return _carried(value) if _LONG_NUMBER.search(text) else value


def _carried(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _carried(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_carried(item) for item in value]
    if isinstance(value, int) and not MSGPACK_INTS[0] <= value < MSGPACK_INTS[1]:
        return str(value)
    return value
