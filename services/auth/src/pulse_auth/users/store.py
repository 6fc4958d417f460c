"""The ``auth.users`` rows: accounts, their password hashes, roles and token versions."""

from __future__ import annotations

import enum
import uuid
import zlib
from datetime import datetime

import asyncpg
from pulse_contracts.accounts import Role, User
from pulse_runtime.database import acquired

_USER_COLUMNS = "id, email, role, disabled, created_at, updated_at"
# An advisory lock in PostgreSQL's two-int key space (the migrations lock a single bigint, a
# space that does not overlap): (namespace, 0).
_FIRST_ADMIN_LOCK = zlib.crc32(b"pulse-auth-first-admin") & 0x7FFFFFFF


class EmailTaken(Exception):
    pass


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


def _user(row: asyncpg.Record) -> User:
    return User(
        id=str(row["id"]),
        email=row["email"],
        role=row["role"],
        disabled=row["disabled"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def user_by_id(conn: asyncpg.Connection, user_id: uuid.UUID) -> UserWithSecret | None:
    """The user, read on ``conn`` (within the caller's transaction: a refresh reads it there)."""
    row = await conn.fetchrow(
        f"SELECT {_USER_COLUMNS}, password_hash, token_version FROM auth.users WHERE id = $1",
        user_id,
    )
    if row is None:
        return None
    return UserWithSecret(_user(row), row["password_hash"], row["token_version"])


async def end_refresh_tokens(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Revoke every refresh token of the user, in the transaction that disables them or resets
    their password: no session of theirs goes on."""
    await conn.execute(
        "UPDATE auth.refresh_tokens SET revoked_at = now(), successor_sealed = NULL"
        " WHERE user_id = $1 AND revoked_at IS NULL",
        user_id,
    )


class UserStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

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

    async def list_users(self) -> list[User]:
        rows = await self._pool.fetch(f"SELECT {_USER_COLUMNS} FROM auth.users ORDER BY email")
        return [_user(row) for row in rows]

    async def matching_users(
        self,
        *,
        ids: list[uuid.UUID] | None,
        roles: list[str] | None,
        enabled_only: bool,
        after: uuid.UUID | None,
        limit: int | None,
    ) -> list[User]:
        """The users matching every filter given (None: no filter), in id order."""
        rows = await self._pool.fetch(
            f"SELECT {_USER_COLUMNS} FROM auth.users"
            " WHERE ($1::uuid[] IS NULL OR id = any($1::uuid[]))"
            " AND ($2::text[] IS NULL OR role = any($2::text[]))"
            " AND (NOT $3::boolean OR NOT disabled)"
            " AND ($4::uuid IS NULL OR id > $4::uuid)"
            " ORDER BY id LIMIT $5",
            ids,
            roles,
            enabled_only,
            after,
            limit,
        )
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
                await end_refresh_tokens(conn, user_id)
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
                await end_refresh_tokens(conn, user_id)
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
