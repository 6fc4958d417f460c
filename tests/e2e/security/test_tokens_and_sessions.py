"""Forged and expired access tokens; sessions: refresh rotation and reuse, two tabs at once,
logout, a disabled user's tokens, and a WebSocket at its token's expiry."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from http.cookies import SimpleCookie
from typing import Any

import httpx
import nats
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pulse_contracts import Codec, subjects
from pulse_contracts.accounts import KeysRequest, PublicKeys
from pulse_dev.embedded import free_port
from pulse_runtime.access_tokens import AccessClaims, SigningKey, issue_access_token

from tests.support.accounts import USER_EMAIL, USER_PASSWORD, create_user
from tests.support.stack import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    PulseStack,
    ServiceProcess,
    bearer,
    eventually,
    login,
    signing_key,
)

pytestmark = pytest.mark.integration

SHORT_GRACE_S = 0.5


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    return head + "." + b64(signature)


# --- forged and stale tokens ------------------------------------------------------------


def refusal_code(response: httpx.Response) -> str:
    """The verifier's reason, from ``WWW-Authenticate: Bearer error_description="..."``."""
    challenge: str = response.headers.get("www-authenticate", "")
    return challenge.partition('error_description="')[2].rstrip('"')


async def test_forged_and_expired_tokens_are_rejected(stack: PulseStack) -> None:
    valid = await stack.token()
    header, payload, signature = valid.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    # Auth's real signing key (from its database): the tokens below differ from a real one
    # only in what each case is about, so only that check can refuse them.
    real_key = await signing_key(
        stack.database_url, json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]
    )
    now = int(time.time())

    def signed(key: SigningKey, **changes: Any) -> str:
        fresh = {**claims, "jti": uuid.uuid4().hex, "iat": now, "exp": now + 600}
        return issue_access_token(AccessClaims(**{**fresh, **changes}), key)

    never_seen = SigningKey(f"never-seen-{uuid.uuid4().hex[:8]}", Ed25519PrivateKey.generate())
    nc = await nats.connect(stack.nats_url)
    try:
        codec = Codec()
        reply = await nc.request(subjects.auth_rpc("keys"), codec.pack(KeysRequest()), timeout=5)
        jwk = codec.auth_reply.decode(reply.data)
    finally:
        await nc.drain()
    assert isinstance(jwk, PublicKeys)
    kid = jwk.keys[-1]["kid"]
    public_raw = base64.urlsafe_b64decode(jwk.keys[-1]["x"] + "==")
    hs256_head = {"alg": "HS256", "typ": "JWT", "kid": kid}
    hs256_unsigned = b64(json.dumps(hs256_head).encode()) + "." + b64(json.dumps(claims).encode())
    forged = {
        "tampered signature": f"{header}.{payload}.{signature[:-4]}AAAA",
        "tampered payload": ".".join(
            (header, b64(json.dumps({**claims, "role": "admin", "sub": "x"}).encode()), signature)
        ),
        "expired": signed(real_key, iat=now - 3600, exp=now - 1800),
        "unknown kid": signed(never_seen),
        "alg none": forge({"alg": "none", "kid": kid}, claims),
        "HS256 with the public key": hs256_unsigned
        + "."
        + b64(hmac.new(public_raw, hs256_unsigned.encode(), hashlib.sha256).digest()),
    }
    reasons = {
        "tampered signature": "bad_signature",
        "tampered payload": "bad_signature",
        "expired": "expired",
        "unknown kid": "unknown_kid",
        "alg none": "bad_algorithm",
        "HS256 with the public key": "bad_algorithm",
    }
    async with httpx.AsyncClient() as client:
        me = stack["gateway"].url("/api/v1/auth/me")
        assert (await client.get(me, headers=bearer(valid))).status_code == 200
        # The test's own signing is right: the same key and claims, not expired, are let in.
        assert (await client.get(me, headers=bearer(signed(real_key)))).status_code == 200
        for name, token in forged.items():
            response = await client.get(me, headers=bearer(token))
            assert (response.status_code, refusal_code(response)) == (401, reasons[name]), name


# --- sessions ---------------------------------------------------------------------------


async def test_refresh_rotates_and_reuse_revokes_the_chain(make_stack: Any) -> None:
    stack: PulseStack = make_stack(PULSE_AUTH_REFRESH_GRACE_S=str(SHORT_GRACE_S))
    stack.start(["auth", "gateway"])
    async with httpx.AsyncClient() as client:
        login_reply = await client.post(
            stack["gateway"].url("/api/v1/auth/login"),
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        )
        body = login_reply.json()
        assert sorted(body) == ["access_token", "expires_in", "refresh_token", "token_type"]
        assert body["token_type"] == "bearer"
        assert isinstance(body["expires_in"], int)
        assert body["expires_in"] == 900  # PULSE_AUTH_ACCESS_TOKEN_TTL_S's default
        assert all(
            isinstance(body[name], str) and body[name] for name in body if name != "expires_in"
        )
        first = body["refresh_token"]
        cookie = SimpleCookie()
        cookie.load(login_reply.headers["set-cookie"])
        refresh_cookie = cookie["pulse_refresh"]
        assert refresh_cookie.value == first
        assert refresh_cookie["httponly"] is True
        assert refresh_cookie["samesite"].lower() == "strict"
        assert refresh_cookie["path"] == "/api/v1/auth"
        refresh = stack["gateway"].url("/api/v1/auth/refresh")
        rotated = await client.post(refresh, json={"refresh_token": first})
        assert rotated.status_code == 200
        second = rotated.json()["refresh_token"]
        assert second != first
        await asyncio.sleep(SHORT_GRACE_S * 2)  # past the grace period: a replay, not a race
        reused = await client.post(refresh, json={"refresh_token": first})
        assert (reused.status_code, reused.json()["code"]) == (401, "refresh_token_reused")
        # the whole chain is gone, including the token that had not been used yet
        after = await client.post(refresh, json={"refresh_token": second})
        assert after.status_code == 401
        # and the access token issued from that chain no longer works either
        me = await client.get(
            stack["gateway"].url("/api/v1/auth/me"),
            headers=bearer(rotated.json()["access_token"]),
        )
        assert me.status_code == 401


def with_second_auth_replica(stack: PulseStack) -> None:
    """Another auth process on the same NATS and database: requests of one queue group are
    spread over both, so two at once may be answered by different replicas."""
    log_dir = stack.work_dir / "auth-2"
    log_dir.mkdir(parents=True)
    replica = ServiceProcess(
        "auth", {**stack["auth"].env, "PULSE_AUTH_PORT": str(free_port())}, log_dir
    )
    stack.services["auth-2"] = replica  # stopped with the stack
    replica.start()
    replica.wait_ready()


async def test_two_tabs_refreshing_at_once_keep_the_session(make_stack: Any) -> None:
    """Two tabs share one cookie; when both refresh at the same moment, the second refresh of
    the token is a race, not a theft: both get the same new pair, and the session goes on."""
    stack: PulseStack = make_stack()
    stack.start(["auth", "gateway"])
    with_second_auth_replica(stack)
    refresh = stack["gateway"].url("/api/v1/auth/refresh")
    me = stack["gateway"].url("/api/v1/auth/me")
    credentials = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    async with httpx.AsyncClient() as tab_one, httpx.AsyncClient() as tab_two:
        logged_in = await tab_one.post(stack["gateway"].url("/api/v1/auth/login"), json=credentials)
        cookie = {"Cookie": f"pulse_refresh={logged_in.json()['refresh_token']}"}
        for round_ in range(5):
            # Each tab on its own connection: the two requests are in flight together.
            answers = await asyncio.gather(
                tab_one.post(refresh, headers=cookie), tab_two.post(refresh, headers=cookie)
            )
            assert [answer.status_code for answer in answers] == [200, 200], (
                round_,
                [answer.text for answer in answers],
            )
            pairs = [answer.json() for answer in answers]
            assert pairs[0]["refresh_token"] == pairs[1]["refresh_token"], round_
            cookies = [answer.cookies["pulse_refresh"] for answer in answers]
            assert cookies == [pairs[0]["refresh_token"]] * 2
            for pair in pairs:  # either tab may go on with what it got
                assert (
                    await tab_one.get(me, headers=bearer(pair["access_token"]))
                ).status_code == 200
            # the next round refreshes the token both tabs now hold
            cookie = {"Cookie": f"pulse_refresh={pairs[0]['refresh_token']}"}
        last = await tab_one.post(refresh, headers=cookie)
        assert last.status_code == 200, last.text


async def test_a_replay_of_a_token_whose_successor_was_used_revokes_the_chain(
    stack: PulseStack,
) -> None:
    """Within the grace period too: once the new token was used, the old one can only be a
    copy (the legitimate client has moved on), and the chain ends."""
    credentials = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    refresh = stack["gateway"].url("/api/v1/auth/refresh")
    async with httpx.AsyncClient() as client:
        first = (
            await client.post(stack["gateway"].url("/api/v1/auth/login"), json=credentials)
        ).json()
        second = (await client.post(refresh, json={"refresh_token": first["refresh_token"]})).json()
        third = (await client.post(refresh, json={"refresh_token": second["refresh_token"]})).json()
        replayed = await client.post(refresh, json={"refresh_token": first["refresh_token"]})
        assert (replayed.status_code, replayed.json()["code"]) == (401, "refresh_token_reused")
        after = await client.post(refresh, json={"refresh_token": third["refresh_token"]})
        assert after.status_code == 401


async def test_refresh_with_the_cookie_and_logout_revokes(stack: PulseStack) -> None:
    async with httpx.AsyncClient() as client:
        logged_in = await client.post(
            stack["gateway"].url("/api/v1/auth/login"),
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        )
        access = logged_in.json()["access_token"]
        # httpx keeps the cookie; the body is empty as a browser's would be
        refreshed = await client.post(stack["gateway"].url("/api/v1/auth/refresh"))
        assert refreshed.status_code == 200, refreshed.text
        access = refreshed.json()["access_token"]
        out = await client.post(stack["gateway"].url("/api/v1/auth/logout"), headers=bearer(access))
        assert out.status_code == 204
        me = await client.get(stack["gateway"].url("/api/v1/auth/me"), headers=bearer(access))
        assert me.status_code == 401
        again = await client.post(
            stack["gateway"].url("/api/v1/auth/refresh"),
            json={"refresh_token": refreshed.json()["refresh_token"]},
        )
        assert again.status_code == 401


async def test_a_disabled_users_tokens_stop_working(stack: PulseStack) -> None:
    user_id = await create_user(stack)
    async with httpx.AsyncClient() as client:
        logged_in = await client.post(
            stack["gateway"].url("/api/v1/auth/login"),
            json={"email": USER_EMAIL, "password": USER_PASSWORD},
        )
        tokens = logged_in.json()
        me = stack["gateway"].url("/api/v1/auth/me")
        assert (await client.get(me, headers=bearer(tokens["access_token"]))).status_code == 200
        disabled = await client.patch(
            stack["gateway"].url(f"/api/v1/admin/users/{user_id}"),
            headers=bearer(await stack.token()),
            json={"disabled": True},
        )
        assert disabled.json()["disabled"] is True

        async def access_refused() -> bool:
            response = await client.get(me, headers=bearer(tokens["access_token"]))
            return response.status_code == 401

        assert await eventually(access_refused, within_s=5)
        refreshed = await client.post(
            stack["gateway"].url("/api/v1/auth/refresh"),
            json={"refresh_token": tokens["refresh_token"]},
        )
        assert refreshed.status_code == 401
        relogin = await client.post(
            stack["gateway"].url("/api/v1/auth/login"),
            json={"email": USER_EMAIL, "password": USER_PASSWORD},
        )
        assert relogin.status_code == 401


# --- a WebSocket at its token's expiry ------------------------------------------------


async def drain_until_closed(socket: websockets.ClientConnection) -> None:
    while True:
        await asyncio.wait_for(socket.recv(), 10)


async def test_websocket_closes_at_expiry_unless_renewed(make_stack: Any) -> None:
    stack: PulseStack = make_stack(PULSE_AUTH_ACCESS_TOKEN_TTL_S="3")
    stack.start(["persistence", "auth", "ingest", "gateway", "generator"])
    url = stack["gateway"].url("/ws/metrics?type=cpu").replace("http://", "ws://")
    async with websockets.connect(url) as lapsing, websockets.connect(url) as renewed:
        await lapsing.send(json.dumps({"type": "auth", "token": await login(stack)}))
        await renewed.send(json.dumps({"type": "auth", "token": await login(stack)}))
        await asyncio.wait_for(renewed.recv(), 10)
        await renewed.send(json.dumps({"type": "auth", "token": await login(stack)}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await drain_until_closed(lapsing)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "token expired")
        # the renewed one still streams after the first token's lifetime
        assert json.loads(await asyncio.wait_for(renewed.recv(), 10))["type"] == "cpu"
