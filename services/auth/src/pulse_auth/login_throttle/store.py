"""The ``auth.login_failures`` rows: failed (and in-progress) logins per throttle key, so the
throttle holds across auth replicas."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Callable, Mapping
from datetime import timedelta

import asyncpg
from pulse_runtime.database import acquired

# An advisory lock in PostgreSQL's two-int key space (the migrations lock a single bigint, a
# space that does not overlap): (namespace, hashtext(key)).
_LOGIN_LOCK = zlib.crc32(b"pulse-auth-login") & 0x7FFFFFFF

Failures = Mapping[str, tuple[int, float]]
"""Per throttle key: failures within the window, and seconds since the last one."""


class LoginFailureStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def begin_login(
        self, keys: list[str], window: timedelta, wait_for: Callable[[Failures], int]
    ) -> tuple[int, uuid.UUID | None]:
        """Check the throttle and record this attempt as a failure, atomically.

        ``wait_for`` decides from the failures so far (within ``window``; the database's
        clock, so replicas with drifting clocks agree) how long the caller must wait. If 0,
        the attempt is recorded before its password is checked and its id returned: parallel
        guesses queue on a lock per key (across replicas too) and each sees the ones before
        it. A login that succeeds takes its attempt back with :meth:`login_succeeded`.
        """
        keys = sorted(set(keys))  # one order for everyone: no deadlock between two keys
        async with acquired(self._pool) as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext(key)) FROM unnest($2::text[]) AS key",
                _LOGIN_LOCK,
                keys,
            )
            rows = await conn.fetch(
                "SELECT key, count(*) AS failures,"
                " extract(epoch FROM now() - max(failed_at))::float8 AS since_last"
                " FROM auth.login_failures"
                " WHERE key = any($1::text[]) AND failed_at > now() - $2::interval GROUP BY key",
                keys,
                window,
            )
            wait = wait_for({row["key"]: (row["failures"], row["since_last"]) for row in rows})
            if wait > 0:
                return wait, None
            attempt = uuid.uuid4()
            await conn.execute(
                "INSERT INTO auth.login_failures (key, attempt_id)"
                " SELECT key, $2 FROM unnest($1::text[]) AS key",
                keys,
                attempt,
            )
            await conn.execute(
                "DELETE FROM auth.login_failures WHERE failed_at < now() - $1::interval", window * 2
            )
        return 0, attempt

    async def login_succeeded(self, attempt: uuid.UUID, keys: list[str], clear_key: str) -> None:
        """Take back the attempt's failures, and forget every failure of ``clear_key``."""
        await self._pool.execute(
            "DELETE FROM auth.login_failures"
            " WHERE key = any($1::text[]) AND (attempt_id = $2 OR key = $3)",
            keys,
            attempt,
            clear_key,
        )
