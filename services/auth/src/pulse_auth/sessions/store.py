"""The ``auth.refresh_tokens`` and ``auth.revoked_tokens`` rows: refresh-token chains (one a
session), their rotation, and access tokens revoked before they expire."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

import asyncpg
from pulse_runtime.database import acquired

from pulse_auth.users.store import UserWithSecret, user_by_id


class RefreshOutcome(enum.Enum):
    ROTATED = "rotated"
    REPEATED = "repeated"  # spent moments ago (a race): the answer it got then, again
    REUSED = "reused"
    REVOKED = "revoked"  # revoked, or expired, or its user is disabled
    UNKNOWN = "unknown"


class Successor(NamedTuple):
    """The next token of a chain, as the caller made it for the token's user."""

    token_hash: bytes
    access_jti: str  # of the access token issued with it
    sealed: bytes | None  # the answer, sealed under the spent token; None: no grace period


class Refresh(NamedTuple):
    outcome: RefreshOutcome
    user_id: uuid.UUID | None = None
    sealed: bytes | None = None  # REPEATED: the answer the token got when it was spent


class SessionStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # revoked access tokens

    async def revoke_token(self, jti: str, user_id: uuid.UUID, until: datetime) -> None:
        await self._pool.execute(
            "INSERT INTO auth.revoked_tokens (jti, user_id, until) VALUES ($1, $2, $3)"
            " ON CONFLICT (jti) DO NOTHING",
            jti,
            user_id,
            until,
        )

    async def revoked_tokens(self) -> list[tuple[str, datetime]]:
        await self._pool.execute("DELETE FROM auth.revoked_tokens WHERE until < now()")
        rows = await self._pool.fetch("SELECT jti, until FROM auth.revoked_tokens")
        return [(row["jti"], row["until"]) for row in rows]

    # refresh tokens

    async def add_refresh_token(
        self,
        *,
        user_id: uuid.UUID,
        token_hash: bytes,
        ttl: timedelta,
        access_jti: str,
    ) -> None:
        """The first token of a new chain (a login), with the ``jti`` of the access token
        issued alongside, so a logout with only that access token finds the chain."""
        await self._pool.execute(
            "INSERT INTO auth.refresh_tokens (id, family_id, user_id, token_hash, expires_at,"
            " access_jti) VALUES ($1, $2, $3, $4, now() + $5::interval, $6)",
            uuid.uuid4(),
            uuid.uuid4(),
            user_id,
            token_hash,
            ttl,
            access_jti,
        )

    async def rotate_refresh_token(
        self,
        token_hash: bytes,
        ttl: timedelta,
        grace: timedelta,
        successor_for: Callable[[UserWithSecret], Successor],
    ) -> Refresh:
        """Spend a refresh token and record its successor, made by ``successor_for`` for the
        token's user, in one transaction.

        The token's row is locked, so two refreshes of one token (on any replicas) take turns:
        the second finds it spent. Within ``grace`` of that, with the successor not yet used,
        it is a race (two tabs, one cookie) and gets the sealed answer of the first. Any other
        second use means the token was copied: the whole chain it belongs to is revoked, so
        neither the thief nor the owner can continue with it.
        """
        async with acquired(self._pool) as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT id, parent_id, family_id, user_id, expires_at > now() AS live, used_at,"
                " revoked_at, used_at > now() - $2::interval AS in_grace, successor_sealed"
                " FROM auth.refresh_tokens WHERE token_hash = $1 FOR UPDATE",
                token_hash,
                grace,
            )
            if row is None:
                return Refresh(RefreshOutcome.UNKNOWN)
            user_id: uuid.UUID = row["user_id"]
            if row["used_at"] is not None:
                return await self._spent_again(conn, row)
            if row["revoked_at"] is not None or not row["live"]:
                return Refresh(RefreshOutcome.REVOKED, user_id)
            found = await user_by_id(conn, user_id)
            if found is None or found.user.disabled:
                return Refresh(RefreshOutcome.REVOKED, user_id)
            successor = successor_for(found)
            await conn.execute(
                "UPDATE auth.refresh_tokens SET used_at = now(), successor_sealed = $2"
                " WHERE id = $1",
                row["id"],
                successor.sealed,
            )
            # The parent's seal held this token: spent now, it is no answer for anyone.
            await conn.execute(
                "UPDATE auth.refresh_tokens SET successor_sealed = NULL WHERE id = $1",
                row["parent_id"],
            )
            await conn.execute(
                "INSERT INTO auth.refresh_tokens (id, family_id, parent_id, user_id, token_hash,"
                " expires_at, access_jti) VALUES ($1, $2, $3, $4, $5, now() + $6::interval, $7)",
                uuid.uuid4(),
                row["family_id"],
                row["id"],
                user_id,
                successor.token_hash,
                ttl,
                successor.access_jti,
            )
        await self._drop_seals_older_than(grace)
        return Refresh(RefreshOutcome.ROTATED, user_id)

    async def _spent_again(self, conn: asyncpg.Connection, row: asyncpg.Record) -> Refresh:
        """A spent token presented again: a race within the grace period, else a replay."""
        user_id: uuid.UUID = row["user_id"]
        if row["in_grace"] and row["revoked_at"] is not None:
            return Refresh(RefreshOutcome.REVOKED, user_id)  # ended meanwhile (a logout)
        if row["in_grace"] and row["successor_sealed"] is not None:
            # Sealed only until the successor is spent: the race is with its first use.
            return Refresh(RefreshOutcome.REPEATED, user_id, row["successor_sealed"])
        await self._revoke_family(conn, row["family_id"])
        return Refresh(RefreshOutcome.REUSED, user_id)

    async def _drop_seals_older_than(self, grace: timedelta) -> None:
        """Seals of chains nobody refreshed again within the grace period (abandoned, or
        still waiting for their next refresh): past it they are no answer for anyone either.
        Rows locked by a refresh right now are left to the next sweep."""
        await self._pool.execute(
            "UPDATE auth.refresh_tokens SET successor_sealed = NULL WHERE id IN (SELECT id"
            " FROM auth.refresh_tokens WHERE successor_sealed IS NOT NULL"
            " AND used_at < now() - $1::interval FOR UPDATE SKIP LOCKED)",
            grace,
        )

    async def revoke_family(self, family_id: uuid.UUID) -> None:
        async with acquired(self._pool) as conn:
            await self._revoke_family(conn, family_id)

    @staticmethod
    async def _revoke_family(conn: asyncpg.Connection, family_id: uuid.UUID) -> None:
        await conn.execute(
            "UPDATE auth.refresh_tokens SET revoked_at = now(), successor_sealed = NULL"
            " WHERE family_id = $1 AND revoked_at IS NULL",
            family_id,
        )

    async def revoke_family_of_access_token(self, access_jti: str, user_id: uuid.UUID) -> None:
        """Revoke the chain the access token ``access_jti`` was issued with, if known (tokens
        issued before auth recorded that have none)."""
        await self._pool.execute(
            "UPDATE auth.refresh_tokens SET revoked_at = now(), successor_sealed = NULL"
            " WHERE revoked_at IS NULL AND family_id IN (SELECT family_id FROM auth.refresh_tokens"
            " WHERE access_jti = $1 AND user_id = $2)",
            access_jti,
            user_id,
        )

    async def family_of(self, token_hash: bytes, user_id: uuid.UUID) -> uuid.UUID | None:
        value = await self._pool.fetchval(
            "SELECT family_id FROM auth.refresh_tokens WHERE token_hash = $1 AND user_id = $2",
            token_hash,
            user_id,
        )
        return value if isinstance(value, uuid.UUID) else None
