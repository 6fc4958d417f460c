"""``rpc.query.class.timeline``: one student's events in a class, as their producer sent them
(``class_events.attributes``, decoded back to ``NotebookEvent``), oldest first.

At most ``limit`` events: the latest ones within ``start``/``end`` (and the notebook, when
named); ``truncated`` says earlier ones were left out.
"""

from __future__ import annotations

import asyncpg
import msgspec
from pulse_contracts import RpcError
from pulse_contracts.classroom import NotebookEvent, StudentTimeline, TimelineQuery

from .classes import class_not_found
from .scope import class_exists, invalid_range

# The latest events first (the index's order), then turned around, as one JSON array.
_EVENTS = """
SELECT json_agg(attributes ORDER BY event_time, event_id)::text, count(*)
FROM (
    SELECT attributes, event_time, event_id FROM class_events
    WHERE class_id = $1 AND student_id = $2
      AND ($3::text IS NULL OR notebook_path = $3)
      AND ($4::timestamptz IS NULL OR event_time >= $4)
      AND ($5::timestamptz IS NULL OR event_time < $5)
    ORDER BY event_time DESC, event_id DESC
    LIMIT $6
) latest
"""

EVENTS = msgspec.json.Decoder(list[NotebookEvent])


def events_of(array: str | None) -> list[NotebookEvent]:
    return EVENTS.decode(array) if array else []


async def student_timeline(pool: asyncpg.Pool, query: TimelineQuery) -> StudentTimeline | RpcError:
    refused = invalid_range(query.start, query.end)
    if refused is not None:
        return refused
    async with pool.acquire() as conn:
        if not await class_exists(conn, query.class_id):
            return class_not_found(query.class_id)
        array, count = await conn.fetchrow(
            _EVENTS,
            query.class_id,
            query.student_id,
            query.notebook_path,
            query.start,
            query.end,
            query.limit + 1,
        )
    events = events_of(array)
    truncated = count > query.limit
    return StudentTimeline(
        class_id=query.class_id,
        student_id=query.student_id,
        events=events[1:] if truncated else events,
        truncated=truncated,
    )
