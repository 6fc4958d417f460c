"""Argon2id password hashing, off the event loop so one slow hash never stalls other requests."""

from __future__ import annotations

import asyncio
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    def __init__(self, workers: int) -> None:
        # argon2-cffi releases the GIL while hashing, so threads give real parallelism.
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._hasher = PasswordHasher()  # Argon2id, RFC 9106 low-memory profile
        self._decoy_hash: str | None = None

    async def prepare(self) -> None:
        """Make the decoy hash now, at start: made on first use, it would make the first
        unknown-email login cost two hashes, which is a difference an attacker can time."""
        if self._decoy_hash is None:
            self._decoy_hash = await self.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True if ``password`` matches. With no hash (unknown email) a decoy hash is checked,
        so an unknown account costs the same time as a wrong password."""
        if password_hash is None:
            await self.prepare()  # done already by any service: only the CLI gets here first
            assert self._decoy_hash is not None
            password_hash = self._decoy_hash
            password = password + "\x00decoy"  # never matches, whatever was sent
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._executor, self._hasher.verify, password_hash, password
            )
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
