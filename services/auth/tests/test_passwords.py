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


async def test_the_decoy_is_made_at_start_so_the_first_unknown_email_costs_one_check(
    passwords: Passwords, monkeypatch: pytest.MonkeyPatch
) -> None:
    await passwords.prepare()
    calls: list[str] = []
    real_hash, real_verify = PasswordHasher.hash, PasswordHasher.verify

    def counting_hash(self: PasswordHasher, password: str | bytes, **kwargs: object) -> str:
        calls.append("hash")
        return real_hash(self, password)

    def counting_verify(self: PasswordHasher, password_hash: str, password: str) -> bool:
        calls.append("verify")
        return real_verify(self, password_hash, password)

    monkeypatch.setattr(PasswordHasher, "hash", counting_hash)
    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    assert not await passwords.verify(None, "the first unknown email's password")
    assert calls == ["verify"]  # no decoy hashed now: it was made by prepare()
    await passwords.prepare()  # idempotent: a second start makes no second decoy
    assert calls == ["verify"]
