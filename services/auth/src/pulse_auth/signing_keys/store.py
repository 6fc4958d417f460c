"""The ``auth.signing_keys`` rows: the Ed25519 keys access tokens are signed with."""

from __future__ import annotations

from datetime import datetime

import asyncpg


class SigningKeyStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

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
