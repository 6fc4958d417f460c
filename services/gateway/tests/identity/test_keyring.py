"""The key ring checks tokens locally with auth's keys and revocations, and keeps both current:
what auth publishes (``auth.keys``, ``auth.revocations``) applies at once, and a token signed
with a key it does not know yet makes it ask auth, at most once in five seconds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import msgspec
import pytest
from pulse_contracts import subjects
from pulse_contracts.accounts import PublicKeys, Revocation
from pulse_gateway.identity import keyring as keyring_module
from pulse_gateway.identity.keyring import KeyRing, Unauthenticated
from pulse_runtime.access_tokens import SigningKey, issue_access_token

from services.gateway.tests.support import LiveMessage, LiveNats, ScriptedAuth, Tokens


async def refusal(keyring: KeyRing, token: str) -> str:
    with pytest.raises(Unauthenticated) as refused:
        await keyring.verify(token)
    return refused.value.code


async def test_a_key_auth_made_since_the_last_sync_is_asked_for_when_a_token_needs_it(
    keyring: KeyRing, auth: ScriptedAuth, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keyring_module, "_KEY_REFRESH_MIN_INTERVAL_S", 0.0)
    rotated = SigningKey.generate()
    auth.keys.append(rotated.public_jwk())
    claims = tokens.claims("admin")
    assert (await keyring.verify(issue_access_token(claims, rotated))) == claims


async def test_unknown_keys_ask_auth_at_most_once_in_five_seconds(
    keyring: KeyRing, auth: ScriptedAuth, tokens: Tokens
) -> None:
    asked = auth.calls  # the fixture's sync, a moment ago
    for _ in range(3):
        assert await refusal(keyring, tokens.forged()) == "unknown_kid"
    assert auth.calls == asked


@pytest.fixture
async def listening(auth: ScriptedAuth) -> AsyncIterator[tuple[KeyRing, LiveNats]]:
    """A started key ring: synced, and subscribed to what auth publishes."""
    nats = LiveNats()
    ring = KeyRing(cast(Any, nats), cast(Any, None), cast(Any, auth))
    await ring.start()
    try:
        yield ring, nats
    finally:
        await ring.stop()


async def test_a_revocation_auth_publishes_applies_at_once(
    listening: tuple[KeyRing, LiveNats], tokens: Tokens
) -> None:
    keyring, nats = listening
    logged_out = tokens.claims(user="ada")
    disabled = tokens.claims(user="bob", version=3)
    kept = tokens.claims(user="cy")
    for claims in (logged_out, disabled, kept):
        await keyring.verify(tokens.sign(claims))
    for revocation in (
        Revocation(until=logged_out.exp, jti=logged_out.jti),
        Revocation(until=disabled.exp, user_id="bob", min_version=4),
    ):
        await nats.publish(
            LiveMessage(subjects.AUTH_REVOCATIONS, msgspec.msgpack.encode(revocation), None)
        )
    assert await refusal(keyring, tokens.sign(logged_out)) == "revoked"
    assert await refusal(keyring, tokens.sign(disabled)) == "revoked"
    assert await keyring.verify(tokens.issue(user="bob", version=4))  # after the change
    assert await keyring.verify(tokens.sign(kept)) == kept


async def test_the_keys_auth_publishes_replace_the_ones_held(
    listening: tuple[KeyRing, LiveNats], tokens: Tokens
) -> None:
    keyring, nats = listening
    rotated = SigningKey.generate()
    keys = PublicKeys(keys=[rotated.public_jwk()], access_token_ttl_s=900)
    await nats.publish(LiveMessage(subjects.AUTH_KEYS, msgspec.msgpack.encode(keys), None))
    claims = tokens.claims()
    assert await keyring.verify(issue_access_token(claims, rotated)) == claims
    assert await refusal(keyring, tokens.sign(claims)) == "unknown_kid"  # the old key, dropped


async def test_an_unreadable_message_from_auth_changes_nothing(
    listening: tuple[KeyRing, LiveNats], tokens: Tokens
) -> None:
    keyring, nats = listening
    for subject in (subjects.AUTH_KEYS, subjects.AUTH_REVOCATIONS):
        await nats.publish(LiveMessage(subject, b"\xc1 not msgpack", None))
    claims = tokens.claims()
    assert await keyring.verify(tokens.sign(claims)) == claims
