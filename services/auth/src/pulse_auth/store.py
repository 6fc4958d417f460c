"""The auth schema's rows: every SQL statement auth runs is here."""

from __future__ import annotations

import enum
import uuid
import zlib
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import NamedTuple

import asyncpg
from pulse_contracts.accounts import ApiKey, Role, Scope, User
from pulse_runtime.database import acquired

_USER_COLUMNS = "id, email, role, disabled, created_at, updated_at"
_API_KEY_COLUMNS = "id, name, prefix, scopes, created_at, last_used_at, revoked_at"
# Advisory locks of auth, in PostgreSQL's two-int key space (the migrations lock a single
# bigint, a space that does not overlap): (namespace, hashtext(key)).
_LOGIN_LOCK = zlib.crc32(b"pulse-auth-login") & 0x7FFFFFFF
_FIRST_ADMIN_LOCK = zlib.crc32(b"pulse-auth-first-admin") & 0x7FFFFFFF

Failures = Mapping[str, tuple[int, float]]
"""Per throttle key: failures within the window, and seconds since the last one."""


class EmailTaken(Exception):
    pass


def _user(row: asyncpg.Record) -> User:
    return User(
        id=str(row["id"]),
        email=row["email"],
        role=row["role"],
        disabled=row["disabled"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _api_key(row: asyncpg.Record) -> ApiKey:
    return ApiKey(
        id=str(row["id"]),
        name=row["name"],
        prefix=row["prefix"],
        scopes=list(row["scopes"]),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


def parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class UserWithSecret:
    __slots__ = ("password_hash", "token_version", "user")

    def __init__(self, user: User, password_hash: str, token_version: int) -> None:
        self.user = user
        self.password_hash = password_hash
        self.token_version = token_version


class FirstAdmin(enum.Enum):
    CREATED = "created"
    ADMIN_EXISTS = "admin_exists"  # there was one already, or another replica just made it
    EMAIL_TAKEN = "email_taken"  # a user who is not an admin has that email


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


class AccountStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # users

    async def create_user(self, email: str, password_hash: str, role: Role) -> User:
        try:
            row = await self._pool.fetchrow(
                f"INSERT INTO auth.users (id, email, password_hash, role) VALUES ($1, $2, $3, $4)"
                f" RETURNING {_USER_COLUMNS}",
                uuid.uuid4(),
                email,
                password_hash,
                role,
            )
        except asyncpg.UniqueViolationError:
            raise EmailTaken(email) from None
        assert row is not None
        return _user(row)

    async def user_by_email(self, email: str) -> UserWithSecret | None:
        row = await self._pool.fetchrow(
            f"SELECT {_USER_COLUMNS}, password_hash, token_version FROM auth.users"
            " WHERE lower(email) = lower($1)",
            email,
        )
        if row is None:
            return None
        return UserWithSecret(_user(row), row["password_hash"], row["token_version"])

    @staticmethod
    async def _user_by_id(conn: asyncpg.Connection, user_id: uuid.UUID) -> UserWithSecret | None:
        row = await conn.fetchrow(
            f"SELECT {_USER_COLUMNS}, password_hash, token_version FROM auth.users WHERE id = $1",
            user_id,
        )
        if row is None:
            return None
        return UserWithSecret(_user(row), row["password_hash"], row["token_version"])

    async def list_users(self) -> list[User]:
        rows = await self._pool.fetch(f"SELECT {_USER_COLUMNS} FROM auth.users ORDER BY email")
        return [_user(row) for row in rows]

    async def create_first_admin(self, email: str, password_hash: str) -> FirstAdmin:
        """Create the admin ``email`` unless an admin, or a user with that email, exists.

        Under a lock, so auth replicas starting together create one admin, not one each."""
        try:
            async with acquired(self._pool) as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", _FIRST_ADMIN_LOCK)
                if await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM auth.users WHERE role = 'admin')"
                ):
                    return FirstAdmin.ADMIN_EXISTS
                await conn.execute(
                    "INSERT INTO auth.users (id, email, password_hash, role)"
                    " VALUES ($1, $2, $3, 'admin')",
                    uuid.uuid4(),
                    email,
                    password_hash,
                )
        except asyncpg.UniqueViolationError:
            return FirstAdmin.EMAIL_TAKEN
        return FirstAdmin.CREATED

    async def has_admin(self) -> bool:
        return bool(
            await self._pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM auth.users WHERE role = 'admin')"
            )
        )

    async def update_user(
        self, user_id: uuid.UUID, *, role: Role | None, disabled: bool | None
    ) -> tuple[User, int | None] | None:
        """Change role and/or disabled. A change makes earlier access tokens stop working (the
        token version goes up, and is returned); disabling also revokes every refresh token.
        A request that changes nothing ends no session (no version is returned): the role
        and state the tokens carry still hold."""
        async with acquired(self._pool) as conn, conn.transaction():
            row = await conn.fetchrow(
                f"UPDATE auth.users SET role = COALESCE($2, role),"
                f" disabled = COALESCE($3, disabled), token_version = token_version + 1,"
                f" tokens_revoked_at = now(), updated_at = now() WHERE id = $1 AND (role, disabled)"
                f" IS DISTINCT FROM (COALESCE($2, role), COALESCE($3, disabled))"
                f" RETURNING {_USER_COLUMNS}, token_version",
                user_id,
                role,
                disabled,
            )
            if row is None:
                unchanged = await conn.fetchrow(
                    f"SELECT {_USER_COLUMNS} FROM auth.users WHERE id = $1", user_id
                )
                return None if unchanged is None else (_user(unchanged), None)
            if disabled:
                await self._revoke_user_refresh_tokens(conn, user_id)
        return _user(row), row["token_version"]

    async def set_password(self, user_id: uuid.UUID, password_hash: str) -> tuple[User, int] | None:
        """A reset password ends every session: tokens of both kinds stop working."""
        async with acquired(self._pool) as conn, conn.transaction():
            row = await conn.fetchrow(
                f"UPDATE auth.users SET password_hash = $2, token_version = token_version + 1,"
                f" tokens_revoked_at = now(), updated_at = now() WHERE id = $1"
                f" RETURNING {_USER_COLUMNS}, token_version",
                user_id,
                password_hash,
            )
            if row is not None:
                await self._revoke_user_refresh_tokens(conn, user_id)
        return None if row is None else (_user(row), row["token_version"])

    async def bump_token_version(self, user_id: uuid.UUID) -> int:
        value = await self._pool.fetchval(
            "UPDATE auth.users SET token_version = token_version + 1, tokens_revoked_at = now()"
            " WHERE id = $1 RETURNING token_version",
            user_id,
        )
        return int(value)

    async def rehash_password(self, user_id: uuid.UUID, password_hash: str) -> None:
        await self._pool.execute(
            "UPDATE auth.users SET password_hash = $2 WHERE id = $1", user_id, password_hash
        )

    async def recent_user_revocations(
        self, since: datetime
    ) -> list[tuple[uuid.UUID, int, datetime]]:
        """Users whose tokens were revoked after ``since``: (id, min version, revoked at)."""
        rows = await self._pool.fetch(
            "SELECT id, token_version, tokens_revoked_at FROM auth.users"
            " WHERE tokens_revoked_at > $1",
            since,
        )
        return [(row["id"], row["token_version"], row["tokens_revoked_at"]) for row in rows]

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
            found = await self._user_by_id(conn, user_id)
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

    @staticmethod
    async def _revoke_user_refresh_tokens(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
        await conn.execute(
            "UPDATE auth.refresh_tokens SET revoked_at = now(), successor_sealed = NULL"
            " WHERE user_id = $1 AND revoked_at IS NULL",
            user_id,
        )

    # API keys

    async def create_api_key(
        self,
        *,
        name: str,
        prefix: str,
        secret_hash: bytes,
        scopes: list[Scope],
        created_by: uuid.UUID | None,
    ) -> ApiKey:
        row = await self._pool.fetchrow(
            "INSERT INTO auth.api_keys (id, name, prefix, secret_hash, scopes, created_by)"
            f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_API_KEY_COLUMNS}",
            uuid.uuid4(),
            name,
            prefix,
            secret_hash,
            scopes,
            created_by,
        )
        assert row is not None
        return _api_key(row)

    async def list_api_keys(self) -> list[ApiKey]:
        rows = await self._pool.fetch(
            f"SELECT {_API_KEY_COLUMNS} FROM auth.api_keys ORDER BY created_at"
        )
        return [_api_key(row) for row in rows]

    async def revoke_api_key(self, key_id: uuid.UUID) -> ApiKey | None:
        row = await self._pool.fetchrow(
            "UPDATE auth.api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1"
            f" RETURNING {_API_KEY_COLUMNS}",
            key_id,
        )
        return None if row is None else _api_key(row)

    async def api_key_by_prefix(self, prefix: str) -> tuple[ApiKey, bytes] | None:
        """The unrevoked key with that prefix and its secret's hash. Nothing is written: the
        prefix is public, so only a verified secret may mark the key used."""
        row = await self._pool.fetchrow(
            f"SELECT {_API_KEY_COLUMNS}, secret_hash FROM auth.api_keys"
            " WHERE prefix = $1 AND revoked_at IS NULL",
            prefix,
        )
        return None if row is None else (_api_key(row), bytes(row["secret_hash"]))

    async def mark_api_key_used(self, key_id: uuid.UUID) -> None:
        await self._pool.execute(
            "UPDATE auth.api_keys SET last_used_at = now() WHERE id = $1", key_id
        )

    # signing keys

    async def signing_keys(self) -> list[tuple[str, str, datetime]]:
        rows = await self._pool.fetch(
            "SELECT kid, private_pem, created_at FROM auth.signing_keys"
            " WHERE retired_at IS NULL ORDER BY created_at"
        )
        return [(row["kid"], row["private_pem"], row["created_at"]) for row in rows]

    async def add_signing_key(self, kid: str, private_pem: str) -> None:
        await self._pool.execute(
            "INSERT INTO auth.signing_keys (kid, private_pem) VALUES ($1, $2)"
            " ON CONFLICT (kid) DO NOTHING",
            kid,
            private_pem,
        )

    # login failures (rate limiting that holds across auth replicas)

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
