"""Accounts and security end to end: real auth, gateway and ingest processes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
from typing import Any

import httpx
import nats
import pytest
import websockets
from litestar.routes import HTTPRoute
from pulse_contracts import Codec, subjects
from pulse_contracts.accounts import KeysRequest, PublicKeys
from pulse_gateway.app import describing_app
from pulse_gateway.security import access_of
from pulse_runtime.embedded import free_port

from tests.support.stack import ADMIN_EMAIL, ADMIN_PASSWORD, PulseStack, bearer, eventually, login

pytestmark = pytest.mark.integration

USER_EMAIL = "someone@pulse.test"
USER_PASSWORD = "a perfectly long password"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(payload).encode())
    return head + "." + b64(signature)


async def create_user(stack: PulseStack, email: str = USER_EMAIL, role: str = "user") -> str:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            stack["gateway"].url("/api/v1/admin/users"),
            headers=bearer(await stack.token()),
            json={"email": email, "password": USER_PASSWORD, "role": role},
        )
    assert response.status_code == 201, response.text
    user_id: str = response.json()["id"]
    return user_id


@pytest.fixture
def stack(make_stack: Any) -> PulseStack:
    stack: PulseStack = make_stack()
    stack.start(["auth", "gateway"])
    return stack


# --- every route declares its access, and the gateway enforces it ----------------------


def declared_routes() -> list[tuple[str, str, str]]:
    """(method, path, access) of every registered HTTP route of the real app."""
    app = describing_app()
    table = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            access = access_of(handler)
            assert access is not None, route.path
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                path = route.path.replace("{user_id:str}", "00000000-0000-0000-0000-000000000000")
                path = path.replace("{api_key_id:str}", "00000000-0000-0000-0000-000000000000")
                path = path.replace("{file_path:path}", "index.html")
                table.append((method, path, access))
    return table


ROUTES = declared_routes()


def test_every_route_declares_its_access_and_only_the_expected_ones_are_public() -> None:
    public = sorted({path for _, path, access in ROUTES if access == "public"})
    assert public == [
        "/",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/healthz",
        "/index.html",
        "/readyz",
    ]
    assert any(path.startswith("/schema") for _, path, _ in ROUTES)


def refused_by_guard(response: httpx.Response) -> bool:
    """The access guard's own 401/403 (a handler's 401, e.g. a bad refresh token, is not)."""
    if response.status_code not in (401, 403):
        return False
    return response.json().get("code") in ("unauthorized", "forbidden")


async def test_no_token_is_401_and_wrong_role_is_403_on_every_route(stack: PulseStack) -> None:
    await create_user(stack)
    user_token = await login(stack, USER_EMAIL, USER_PASSWORD)
    admin_token = await stack.token()
    # logout revokes the token that calls it: walk it last
    table = sorted(ROUTES, key=lambda route: route[1] == "/api/v1/auth/logout")
    async with httpx.AsyncClient() as client:
        for method, path, access in table:
            url = stack["gateway"].url(path)
            anonymous = await client.request(method, url)
            as_user = await client.request(method, url, headers=bearer(user_token))
            as_admin = await client.request(method, url, headers=bearer(admin_token))
            where = f"{method} {path} ({access})"
            if access == "public":
                assert not refused_by_guard(anonymous), where
                continue
            assert anonymous.status_code == 401, where
            assert anonymous.json()["code"] == "unauthorized", where
            assert anonymous.headers["www-authenticate"].startswith("Bearer"), where
            if access == "admin":
                assert as_user.status_code == 403, where
                assert as_user.json()["code"] == "forbidden", where
            else:
                assert not refused_by_guard(as_user), where
            assert not refused_by_guard(as_admin), where


async def test_websocket_needs_a_token(stack: PulseStack) -> None:
    url = stack["gateway"].url("/ws/metrics?type=cpu").replace("http://", "ws://")
    async with websockets.connect(url) as socket:
        await socket.send(json.dumps({"type": "auth", "token": "not-a-token"}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    async with websockets.connect(url) as socket:  # says nothing at all
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "authentication required")


# --- forged and stale tokens ------------------------------------------------------------


async def test_forged_and_expired_tokens_are_rejected(stack: PulseStack) -> None:
    valid = await stack.token()
    header, payload, signature = valid.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
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
        "expired": forge(
            {"alg": "EdDSA", "kid": kid}, {**claims, "exp": int(time.time()) - 3600}, b"x" * 64
        ),
        "unknown kid": forge({"alg": "EdDSA", "kid": "nope"}, claims, b"x" * 64),
        "alg none": forge({"alg": "none", "kid": kid}, claims),
        "HS256 with the public key": hs256_unsigned
        + "."
        + b64(hmac.new(public_raw, hs256_unsigned.encode(), hashlib.sha256).digest()),
    }
    async with httpx.AsyncClient() as client:
        me = stack["gateway"].url("/api/v1/auth/me")
        assert (await client.get(me, headers=bearer(valid))).status_code == 200
        for name, token in forged.items():
            response = await client.get(me, headers=bearer(token))
            assert response.status_code == 401, name


# --- sessions ---------------------------------------------------------------------------


async def test_refresh_rotates_and_reuse_revokes_the_chain(stack: PulseStack) -> None:
    async with httpx.AsyncClient() as client:
        login_reply = await client.post(
            stack["gateway"].url("/api/v1/auth/login"),
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        )
        first = login_reply.json()["refresh_token"]
        assert "pulse_refresh=" in login_reply.headers["set-cookie"]
        assert "HttpOnly" in login_reply.headers["set-cookie"]
        assert "SameSite=strict" in login_reply.headers["set-cookie"]
        refresh = stack["gateway"].url("/api/v1/auth/refresh")
        rotated = await client.post(refresh, json={"refresh_token": first})
        assert rotated.status_code == 200
        second = rotated.json()["refresh_token"]
        assert second != first
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


async def test_unknown_email_and_wrong_password_get_the_same_answer(stack: PulseStack) -> None:
    async with httpx.AsyncClient() as client:
        url = stack["gateway"].url("/api/v1/auth/login")
        wrong = await client.post(url, json={"email": ADMIN_EMAIL, "password": "nope"})
        unknown = await client.post(url, json={"email": "ghost@pulse.test", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "code": "invalid_credentials",
            "message": "wrong email or password",
        }
    )


async def test_the_sixth_rapid_wrong_password_is_429(stack: PulseStack) -> None:
    async with httpx.AsyncClient() as client:
        url = stack["gateway"].url("/api/v1/auth/login")
        statuses = [
            (await client.post(url, json={"email": ADMIN_EMAIL, "password": f"guess{i}"}))
            for i in range(6)
        ]
        right_password_now = await client.post(
            url, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
    assert [r.status_code for r in statuses] == [401] * 5 + [429]
    assert int(statuses[-1].headers["retry-after"]) > 0
    assert statuses[-1].json()["code"] == "too_many_attempts"
    assert right_password_now.status_code == 429  # locked means locked


async def test_logs_of_a_login_hold_no_password_and_no_token(stack: PulseStack) -> None:
    async with httpx.AsyncClient() as client:
        logged_in = await client.post(
            stack["gateway"].url("/api/v1/auth/login"),
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        )
        tokens = logged_in.json()
        await client.get(
            stack["gateway"].url("/api/v1/auth/me"), headers=bearer(tokens["access_token"])
        )
        await client.post(
            stack["gateway"].url("/api/v1/auth/refresh"),
            json={"refresh_token": tokens["refresh_token"]},
        )
    stack.stop()
    logs = "".join(service.output() for service in stack.services.values())
    assert '"event": "login"' in logs  # the login was logged...
    assert ADMIN_PASSWORD not in logs  # ...without its secrets
    assert tokens["access_token"] not in logs
    assert tokens["access_token"].split(".")[2] not in logs
    assert tokens["refresh_token"] not in logs


async def test_security_headers_and_body_limit(stack: PulseStack) -> None:
    async with httpx.AsyncClient() as client:
        page = await client.get(stack["gateway"].url("/"))
        huge = await client.post(
            stack["gateway"].url("/api/v1/auth/login"), content=b"x" * (2 << 20)
        )
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert huge.status_code == 413


# --- the operators' CLI -----------------------------------------------------------------


def test_cli_creates_users_and_api_keys(database_url: str) -> None:
    env = {"PULSE_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    pulse = [sys.executable, "-m", "pulse_auth.cli"]
    created = subprocess.run(
        [
            *pulse,
            "users",
            "create",
            "--email",
            "ops@pulse.test",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input="long enough password\n",
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "ops@pulse.test  admin" in created.stdout
    assert "long enough password" not in created.stdout + created.stderr
    too_short = subprocess.run(
        [*pulse, "users", "create", "--email", "x@pulse.test", "--password-stdin"],
        input="short\n",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert too_short.returncode != 0
    assert "length >= 12" in too_short.stderr
    key = subprocess.run(
        [*pulse, "apikeys", "create", "--name", "sensor-7", "--scope", "ingest:metrics"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "secret (shown only now): pk_" in key.stdout
    listed = subprocess.run(
        [*pulse, "apikeys", "list"], env=env, capture_output=True, text=True, check=True
    )
    assert "sensor-7" in listed.stdout
    assert "pk_" not in listed.stdout


# --- producers over HTTP ----------------------------------------------------------------


async def create_api_key(stack: PulseStack, scopes: list[str]) -> tuple[str, str]:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            stack["gateway"].url("/api/v1/admin/api-keys"),
            headers=bearer(await stack.token()),
            json={"name": "test producer", "scopes": scopes},
        )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["api_key"]["id"], body["secret"]


async def test_ingest_http_needs_a_valid_key_with_the_scope(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "ingest", "gateway"])
    key_id, secret = await create_api_key(stack, ["ingest:metrics"])
    _, events_only = await create_api_key(stack, ["ingest:events"])
    url = stack["ingest"].url("/api/v1/metrics")
    point = {"time": "2026-11-22T10:00:00Z", "source": "http", "name": "posted", "value": 3.5}
    async with httpx.AsyncClient() as client:
        missing = await client.post(url, json=point)
        wrong = await client.post(url, json=point, headers=bearer("pk_00000000_nope"))
        lacking = await client.post(url, json=point, headers=bearer(events_only))
        accepted = await client.post(url, json=[point, point], headers=bearer(secret))
        invalid = await client.post(url, json={**point, "value": "high"}, headers=bearer(secret))
        too_big = await client.post(
            url, content=b"[" + b" " * (17 << 20) + b"]", headers=bearer(secret)
        )
        assert (missing.status_code, missing.json()["code"]) == (401, "unauthorized")
        assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_api_key")
        assert (lacking.status_code, lacking.json()["code"]) == (403, "forbidden")
        assert (accepted.status_code, accepted.json()) == (202, {"accepted": 2})
        assert invalid.status_code == 400
        assert invalid.json() == {
            "code": "invalid_metrics",
            "message": "invalid metric point: Expected `float`, got `str` - at `$.value`",
            "errors": [{"index": 0, "field": "value", "reason": "Expected `float`, got `str`"}],
        }
        assert too_big.status_code == 413

        revoked = await client.delete(
            stack["gateway"].url(f"/api/v1/admin/api-keys/{key_id}"),
            headers=bearer(await stack.token()),
        )
        assert revoked.json()["revoked_at"] is not None
        refused_at = time.monotonic()

        async def key_refused() -> bool:
            response = await client.post(url, json=point, headers=bearer(secret))
            return response.status_code == 401

        assert await eventually(key_refused, within_s=5, interval_s=0.25)
    # Within the 5 s promise: the cache holds an answer for 2 s.
    assert time.monotonic() - refused_at < 5


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


async def test_cors_allows_only_the_configured_origins(make_stack: Any) -> None:
    stack: PulseStack = make_stack(PULSE_GATEWAY_CORS_ORIGINS="https://dash.example")
    stack.start(["auth", "gateway"])
    preflight = {"Access-Control-Request-Method": "POST"}
    async with httpx.AsyncClient() as client:
        url = stack["gateway"].url("/api/v1/auth/login")
        allowed = await client.options(url, headers={**preflight, "Origin": "https://dash.example"})
        other = await client.options(url, headers={**preflight, "Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://dash.example"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in other.headers


async def test_a_large_post_of_one_series_is_accepted_whole(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "ingest", "gateway"])
    _, secret = await create_api_key(stack, ["ingest:metrics"])
    start = 1_700_000_000
    points = [
        {"time": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(start + i))}Z",
         "source": "bulk", "name": "large_post", "value": float(i)}
        for i in range(60_000)
    ]  # fmt: skip
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            stack["ingest"].url("/api/v1/metrics"), json=points, headers=bearer(secret)
        )
    assert (response.status_code, response.json()) == (202, {"accepted": 60_000})


def test_cli_says_plainly_when_the_database_is_unreachable() -> None:
    url = f"postgresql://ops:hunter2-secret@127.0.0.1:{free_port()}/pulse"
    result = subprocess.run(
        [sys.executable, "-m", "pulse_auth.cli", "users", "list"],
        env={"PULSE_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("pulse: cannot reach the database at 127.0.0.1:")
    assert "Traceback" not in result.stderr
    assert "hunter2-secret" not in result.stderr
