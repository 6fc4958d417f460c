"""The ``auth.api_keys`` rows: producers' keys, their hashed secrets, scopes and last use."""

from __future__ import annotations

import uuid

import asyncpg
from pulse_contracts.accounts import ApiKey, Scope

_API_KEY_COLUMNS = "id, name, prefix, scopes, created_at, last_used_at, revoked_at, class_id"


def _api_key(row: asyncpg.Record) -> ApiKey:
    return ApiKey(
        id=str(row["id"]),
        name=row["name"],
        prefix=row["prefix"],
        scopes=list(row["scopes"]),
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
        class_id=row["class_id"],
    )


class ApiKeyStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create_api_key(
        self,
        *,
        name: str,
        prefix: str,
        secret_hash: bytes,
        scopes: list[Scope],
        created_by: uuid.UUID | None,
        class_id: str | None = None,
    ) -> ApiKey:
        row = await self._pool.fetchrow(
            "INSERT INTO auth.api_keys"
            " (id, name, prefix, secret_hash, scopes, created_by, class_id)"
            f" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_API_KEY_COLUMNS}",
            uuid.uuid4(),
            name,
            prefix,
            secret_hash,
            scopes,
            created_by,
            class_id,
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
