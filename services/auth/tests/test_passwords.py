"""The decoy path costs what a real check costs: unknown emails are not told apart by time."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from pulse_auth.passwords import Passwords


@pytest.fixture
async def passwords():  # type: ignore[no-untyped-def]
    hashing = Passwords(workers=1)
    yield hashing
    hashing.close()


async def test_hash_is_argon2id_and_verifies(passwords: Passwords) -> None:
    hashed = await passwords.hash("a long enough password")
    assert hashed.startswith("$argon2id$")
    assert await passwords.verify(hashed, "a long enough password")
    assert not await passwords.verify(hashed, "another password")
    assert not await passwords.verify("not a hash", "anything")


async def test_an_unknown_account_does_the_same_argon2_work(
    passwords: Passwords, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed = await passwords.hash("a long enough password")
    checks: list[str] = []
    real_verify = PasswordHasher.verify

    def counting_verify(self: PasswordHasher, password_hash: str, password: str) -> bool:
        checks.append(password_hash.split("$")[3])  # the parameters (m, t, p)
        return real_verify(self, password_hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    assert not await passwords.verify(hashed, "wrong")
    assert not await passwords.verify(None, "a long enough password")
    assert not await passwords.verify(None, "")
    assert len(checks) == 3
    assert len(set(checks)) == 1, "the decoy must use the same cost parameters"
