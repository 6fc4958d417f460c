"""The gateway's unit tests' fixtures: a signing key made for the test, the scripted auth
that publishes it, a key ring synced with that auth, and tokens signed with the key."""

from __future__ import annotations

from typing import Any, cast

import pytest
from pulse_gateway.identity.keyring import KeyRing
from pulse_runtime.access_tokens import SigningKey

from services.gateway.tests.support import ScriptedAuth, Tokens


@pytest.fixture
def signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def auth(signing_key: SigningKey) -> ScriptedAuth:
    return ScriptedAuth(signing_key)


@pytest.fixture
async def keyring(auth: ScriptedAuth) -> KeyRing:
    """A key ring synced with the scripted auth (no NATS: it is only asked, never subscribed)."""
    ring = KeyRing(cast(Any, None), cast(Any, None), cast(Any, auth))
    await ring.sync()
    return ring


@pytest.fixture
def tokens(signing_key: SigningKey) -> Tokens:
    return Tokens(signing_key)
