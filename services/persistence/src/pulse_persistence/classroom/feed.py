"""``rpc.query.class.feed``: the class's latest events (before ``before`` when given), newest
last: the class page's activity feed and the history of its live channel."""

from __future__ import annotations

import asyncpg
from pulse_contracts import RpcError
from pulse_contracts.classroom import ClassFeed, FeedQuery

from .classes import class_not_found
from .scope import class_exists
from .timeline import events_of

_LATEST = """
SELECT json_agg(attributes ORDER BY event_time, event_id)::text
FROM (
    SELECT attributes, event_time, event_id FROM class_events
    WHERE class_id = $1 AND ($2::timestamptz IS NULL OR event_time < $2)
    ORDER BY event_time DESC, event_id DESC
    LIMIT $3
) latest
"""


async def class_feed(pool: asyncpg.Pool, query: FeedQuery) -> ClassFeed | RpcError:
    async with pool.acquire() as conn:
        if not await class_exists(conn, query.class_id):
            return class_not_found(query.class_id)
        array = await conn.fetchval(_LATEST, query.class_id, query.before, query.limit)
    return ClassFeed(class_id=query.class_id, events=events_of(array))
