"""Text PostgreSQL cannot store is the request's fault: auth answers ``bad_request``, not an
``internal_error`` (which the gateway turned into a 503).

The contracts refuse a NUL where a request is decoded (STORABLE); these requests are built in
Python, which checks no constraint, as a field someone forgot to mark would arrive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
import pytest
from pulse_auth.app import decide
from pulse_auth.authority import Authority
from pulse_auth.passwords import Passwords
from pulse_auth.schema import migrate
from pulse_auth.settings import AuthSettings
from pulse_contracts import Codec, RpcError
from pulse_contracts.accounts import AuthRequest, CreateApiKey, LoginRequest, Revocation
from pulse_runtime.access_tokens import SigningKey
from pulse_runtime.database import create_pool

pytestmark = pytest.mark.integration


@pytest.fixture
async def authority(database_url: str) -> AsyncIterator[Authority]:
    pool = await create_pool(database_url, max_size=2)
    async with pool.acquire() as conn:
        await migrate(conn)
    passwords = Passwords(workers=1)
    revocations: list[Revocation] = []

    async def publish(revocation: Revocation) -> None:
        revocations.append(revocation)

    yield Authority(pool, passwords, [SigningKey.generate()], AuthSettings(), publish)
    passwords.close()
    await pool.close()


@pytest.mark.parametrize(
    "request_",
    [
        LoginRequest(email="nul\x00x@example.com", password="whatever it is"),
        CreateApiKey(name="producer\x00", scopes=["ingest:metrics"]),
    ],
    ids=["login email", "api key name"],
)
async def test_text_the_database_cannot_store_is_a_bad_request(
    authority: Authority, request_: AuthRequest
) -> None:
    reply = await decide(authority, request_)
    assert isinstance(reply, RpcError)
    assert reply.code == "bad_request"
    assert "NUL" in reply.message


async def test_the_store_still_works_after_such_a_request(authority: Authority) -> None:
    await decide(authority, LoginRequest(email="nul\x00x@example.com", password="x"))
    reply = await decide(authority, LoginRequest(email="nobody@example.com", password="x"))
    assert reply == RpcError(code="invalid_credentials", message="wrong email or password")


def test_the_contract_refuses_it_first() -> None:
    codec = Codec()
    packed = codec.pack(LoginRequest(email="nul\x00x@example.com", password="x"))
    with pytest.raises(msgspec.ValidationError, match=r"\$\.email"):
        codec.auth_request.decode(packed)
