"""Accounts and security end to end: real auth, gateway and ingest processes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, get_args

import httpx
import nats
import pulse_ingest.http
import pytest
import websockets
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar import post
from litestar.routes import HTTPRoute, WebSocketRoute
from pulse_contracts import Codec, subjects
from pulse_contracts.accounts import KeysRequest, PublicKeys, Scope
from pulse_dev.embedded import free_port
from pulse_gateway.app import describing_app
from pulse_gateway.live.channels import CHANNEL_KINDS
from pulse_runtime.access_tokens import AccessClaims, SigningKey, issue_access_token
from pulse_runtime.web import access_of

from tests.support.classes import create_user as create_classroom_user
from tests.support.stack import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    PulseStack,
    ServiceProcess,
    bearer,
    create_api_key,
    create_class_key,
    eventually,
    login,
    signing_key,
)

pytestmark = pytest.mark.integration

SHORT_GRACE_S = 0.5

USER_EMAIL = "someone@pulse.test"
STUDENT_EMAIL = "student@pulse.test"
USER_PASSWORD = "a perfectly long password"
# The installed console script (the `pulse` entry point of pulse-auth), as operators run it.
PULSE_CLI = shutil.which("pulse", path=str(Path(sys.executable).parent))


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
    table: list[tuple[str, str, str]] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            access = access_of(handler)
            assert access is not None, route.path
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                path = route.path.replace("{user_id:uuid}", "00000000-0000-0000-0000-000000000000")
                path = path.replace("{api_key_id:uuid}", "00000000-0000-0000-0000-000000000000")
                path = path.replace("{file_path:path}", "index.html")
                path = path.replace("{class_id:str}", "no-such-class")
                path = path.replace("{student_id:str}", "someone")
                table.append((method, path, access))
    return table


ROUTES = declared_routes()
ADMIN_PREFIX = "/api/v1/admin/"


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
    # The admin API is admin-only whatever a route declares: not trusted, pinned here.
    admin = {(method, path): access for method, path, access in ROUTES if ADMIN_PREFIX in path}
    assert {route for route, access in admin.items() if access != "admin"} == set()
    assert sorted(admin) == [
        ("DELETE", "/api/v1/admin/api-keys/00000000-0000-0000-0000-000000000000"),
        ("GET", "/api/v1/admin/api-keys"),
        ("GET", "/api/v1/admin/users"),
        ("PATCH", "/api/v1/admin/users/00000000-0000-0000-0000-000000000000"),
        ("POST", "/api/v1/admin/api-keys"),
        ("POST", "/api/v1/admin/users"),
        ("POST", "/api/v1/admin/users/00000000-0000-0000-0000-000000000000/password"),
    ]
    # Any account: its session and the classroom routes, whose handlers decide per class
    # (classroom/visibility.py); instructors and admins: creating, changing, class-wide views.
    classes = "/api/v1/classes"
    one = f"{classes}/no-such-class"
    assert sorted((m, p, a) for m, p, a in ROUTES if a in ("account", "instructor")) == [
        ("GET", "/api/v1/auth/me", "account"),
        ("GET", classes, "account"),
        ("GET", one, "account"),
        ("GET", f"{one}/feed", "instructor"),
        ("GET", f"{one}/hotspots", "instructor"),
        ("GET", f"{one}/overview", "instructor"),
        ("GET", f"{one}/progress", "instructor"),
        ("GET", f"{one}/students/someone/timeline", "account"),
        ("PATCH", one, "instructor"),
        ("POST", "/api/v1/auth/logout", "account"),
        ("POST", classes, "instructor"),
        ("POST", f"{one}/key", "instructor"),
    ]
    # Everything else that is not public is the platform's data (metrics), or admin-only.
    assert {a for _, _, a in ROUTES} == {"public", "account", "user", "instructor", "admin"}


def refused_by_guard(response: httpx.Response) -> bool:
    """The access guard's own 401/403 (a handler's 401, e.g. a bad refresh token, is not)."""
    if response.status_code not in (401, 403):
        return False
    return response.json().get("code") in ("unauthorized", "forbidden")


async def test_no_token_is_401_and_wrong_role_is_403_on_every_route(stack: PulseStack) -> None:
    """A ``user`` is refused the admin and instructor routes; a ``student`` every route but
    its session's and the classroom's (which then decide per class: not the guard's job)."""
    await create_user(stack)
    await create_user(stack, STUDENT_EMAIL, role="student")
    user_token = await login(stack, USER_EMAIL, USER_PASSWORD)
    student_token = await login(stack, STUDENT_EMAIL, USER_PASSWORD)
    admin_token = await stack.token()
    # logout revokes the token that calls it: walk it last
    table = sorted(ROUTES, key=lambda route: route[1] == "/api/v1/auth/logout")
    admin_routes_walked = 0
    async with httpx.AsyncClient() as client:
        for method, path, access in table:
            url = stack["gateway"].url(path)
            anonymous = await client.request(method, url)
            as_user = await client.request(method, url, headers=bearer(user_token))
            as_student = await client.request(method, url, headers=bearer(student_token))
            as_admin = await client.request(method, url, headers=bearer(admin_token))
            where = f"{method} {path} ({access})"
            if path.startswith(ADMIN_PREFIX):  # whatever the route declares
                admin_routes_walked += 1
                assert (anonymous.status_code, as_user.status_code) == (401, 403), where
                assert as_user.json()["code"] == "forbidden", where
            if access == "public":
                assert not refused_by_guard(anonymous), where
                continue
            assert anonymous.status_code == 401, where
            assert anonymous.json()["code"] == "unauthorized", where
            assert anonymous.headers["www-authenticate"].startswith("Bearer"), where
            if access in ("admin", "instructor"):
                assert as_user.status_code == 403, where
                assert as_user.json()["code"] == "forbidden", where
            else:
                assert not refused_by_guard(as_user), where
            if access == "account":
                assert not refused_by_guard(as_student), where
            else:
                assert as_student.status_code == 403, where
                assert as_student.json()["code"] == "forbidden", where
            assert not refused_by_guard(as_admin), where
    assert admin_routes_walked == 7


# --- every WebSocket route closes an unauthenticated socket with 4401 ---------------------

# What a WebSocket route may need besides a token (/ws/metrics: the metric); /ws ignores it.
WS_QUERY = "?type=cpu"


def declared_websockets() -> list[tuple[str, str]]:
    """(path, access) of every registered WebSocket route of the real app."""
    return [
        (route.path, str(access_of(route.route_handler)))
        for route in describing_app().routes
        if isinstance(route, WebSocketRoute)
    ]


async def closed_with(
    url: str, first_frame: str | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """Open a socket, send ``first_frame`` (if any) and read until the gateway closes it: its
    (code, reason). Waits past the 5 s the gateway allows for the auth frame."""
    async with websockets.connect(url, additional_headers=headers) as socket:
        if first_frame is not None:
            await socket.send(first_frame)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await read_unauthenticated(socket)
    assert closed.value.rcvd is not None, url
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def read_unauthenticated(socket: websockets.ClientConnection) -> None:
    """Read until the socket closes; an unauthenticated socket must never get ready or data."""
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), 15))
        assert frame.get("type") not in ("ready", "data"), frame


async def test_every_websocket_route_closes_without_a_valid_token_with_4401(
    stack: PulseStack,
) -> None:
    """docs/websocket.md: the token comes in the first frame (or the handshake's
    Authorization header); none within 5 s, or a bad one, closes the socket with 4401."""
    sockets = declared_websockets()
    assert {"/ws", "/ws/metrics"} <= {path for path, _ in sockets}
    assert all(access in ("user", "admin") for _, access in sockets), sockets
    cases: dict[str, dict[str, Any]] = {
        "silent": {},
        "bad token": {"first_frame": json.dumps({"type": "auth", "token": "not-a-token"})},
        "not an auth frame": {"first_frame": json.dumps({"type": "subscribe", "channel": "x"})},
        "bad handshake token": {"headers": bearer("not-a-token")},
    }
    reasons = {
        "silent": "authentication required",
        "bad token": "invalid token (malformed)",
        "not an auth frame": "authentication required",
        "bad handshake token": "invalid token (malformed)",
    }
    walks = {
        (path, case): closed_with(
            stack["gateway"].url(path + WS_QUERY).replace("http://", "ws://"), **kwargs
        )
        for path, _ in sockets
        for case, kwargs in cases.items()
    }
    results = dict(zip(walks, await asyncio.gather(*walks.values()), strict=True))
    for (path, case), (code, reason) in results.items():
        assert (code, reason) == (4401, reasons[case]), (path, case)


# --- every /ws channel, and who may watch it ------------------------------------------------

# Who may subscribe to each kind of channel (pulse_gateway.live.channels): "owner" is the
# instructor who owns the class, "instructor" another one.
CHANNEL_ACCESS = {
    "metric:cpu": {"admin", "user", "instructor", "owner"},
    "series:web1:cpu": {"admin", "user", "instructor", "owner"},
    "source:web1": {"admin", "user", "instructor", "owner"},
    "class:py101": {"admin", "owner"},
}
WATCHERS = ("admin", "user", "owner", "instructor", "student")


async def test_every_channel_kind_and_who_may_watch_it(stack: PulseStack) -> None:
    assert {channel.split(":")[0] for channel in CHANNEL_ACCESS} == set(CHANNEL_KINDS)
    stack.start(["persistence"])  # who owns a class: rpc.classroom.get
    nc = await nats.connect(stack.nats_url)
    try:
        tokens = {"admin": await stack.token()}
        for who, role in (("user", "user"), ("instructor", "instructor"), ("student", "student")):
            _, tokens[who] = await create_classroom_user(stack, f"{who}@pulse.test", role)
        owner_id, tokens["owner"] = await create_classroom_user(
            stack, "owner@pulse.test", "instructor"
        )
        async with httpx.AsyncClient() as client:
            created = await client.post(
                stack["gateway"].url("/api/v1/classes"),
                json={"id": "py101", "title": "Python 101"},
                headers=bearer(tokens["owner"]),
            )
        assert created.status_code == 201, created.text
        assert created.json()["class"]["owner_id"] == owner_id
        url = stack["gateway"].url("/ws").replace("http://", "ws://")
        seen: dict[str, set[str]] = {channel: set() for channel in CHANNEL_ACCESS}
        for who in WATCHERS:
            async with websockets.connect(url) as socket:
                await socket.send(json.dumps({"type": "auth", "token": tokens[who]}))
                assert json.loads(await socket.recv())["type"] == "ready"
                for channel in CHANNEL_ACCESS:
                    await socket.send(json.dumps({"type": "subscribe", "channel": channel}))
                    answer = json.loads(await asyncio.wait_for(socket.recv(), 10))
                    assert answer["channel"] == channel, answer
                    if answer["type"] == "subscribed":
                        seen[channel].add(who)
                    else:
                        assert (answer["type"], answer["code"]) == ("error", "forbidden"), answer
        assert seen == CHANNEL_ACCESS
    finally:
        await nc.drain()


# --- every route of ingest needs an API key with its scope --------------------------------

INGEST_UNGUARDED = ("/healthz", "/readyz", "/metrics", "/asyncapi.json")


def ingest_unguarded(path: str) -> bool:
    """Probes, and the two documents (AsyncAPI, and OpenAPI under /schema): they describe the
    producers' contract (public, as docs/schemas/ is), not any data."""
    return path in INGEST_UNGUARDED or path.startswith("/schema")


def declared_ingest_routes() -> list[tuple[str, str, str]]:
    """(method, path, access) of every registered HTTP route of ingest's real app."""
    app = pulse_ingest.http.create_http_app(
        keys=None,  # type: ignore[arg-type]
        ingest=None,  # type: ignore[arg-type]
        readiness=None,  # type: ignore[arg-type]
        max_body_bytes=1024,
        asyncapi={},
    )
    table: list[tuple[str, str, str]] = []
    for route in app.routes:
        assert isinstance(route, HTTPRoute), route.path
        for handler in route.route_handlers:
            access = access_of(handler)
            assert access is not None, route.path
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                table.append((method, route.path, access))
    return table


def test_ingest_refuses_to_start_with_a_route_that_declares_no_access(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @post("/api/v1/undeclared")
    async def undeclared() -> None: ...

    @post("/api/v1/other", opt={"access": "ingest:everything"})
    async def unknown_scope() -> None: ...

    for handler in (undeclared, unknown_scope):
        monkeypatch.setattr(pulse_ingest.http, "ROUTES", [*pulse_ingest.http.ROUTES, handler])
        with pytest.raises(RuntimeError, match="without a declared access level: /api/v1/"):
            declared_ingest_routes()
    monkeypatch.undo()
    scopes = set(get_args(Scope))
    for method, path, access in declared_ingest_routes():
        if ingest_unguarded(path):
            assert access == "public", path
        else:
            assert access in scopes, (method, path, access)


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


async def test_one_address_trying_many_accounts_is_throttled(make_stack: Any) -> None:
    """Per account the limit is PULSE_AUTH_LOGIN_FAILURE_LIMIT failures; per client address
    four times that, whatever the accounts: here 2 and 8, each account tried once."""
    stack: PulseStack = make_stack(PULSE_AUTH_LOGIN_FAILURE_LIMIT="2")
    stack.start(["auth", "gateway"])
    async with httpx.AsyncClient() as client:
        url = stack["gateway"].url("/api/v1/auth/login")
        attempts = [
            await client.post(url, json={"email": f"guess{i}@pulse.test", "password": "nope"})
            for i in range(9)
        ]
        right_password_now = await client.post(
            url, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
    assert [r.status_code for r in attempts] == [401] * 8 + [429]
    assert attempts[-1].json()["code"] == "too_many_attempts"
    assert int(attempts[-1].headers["retry-after"]) > 0
    # an account that never failed, from the same address: the address is locked
    assert right_password_now.status_code == 429


async def test_the_delay_grows_with_each_further_failure(make_stack: Any) -> None:
    """Once locked, each failure after the wait doubles the next wait: the Retry-After of the
    first 429 after each further failure never decreases and ends larger."""
    stack: PulseStack = make_stack(
        PULSE_AUTH_LOGIN_FAILURE_LIMIT="2", PULSE_AUTH_LOGIN_BASE_DELAY_S="1"
    )
    stack.start(["auth", "gateway"])
    waits: list[int] = []
    async with httpx.AsyncClient() as client:
        url = stack["gateway"].url("/api/v1/auth/login")

        async def wrong() -> httpx.Response:
            return await client.post(url, json={"email": ADMIN_EMAIL, "password": "wrong"})

        assert [(await wrong()).status_code for _ in range(2)] == [401, 401]
        while len(waits) < 3:
            refused = await wrong()
            assert refused.status_code == 429, refused.text
            waits.append(int(refused.headers["retry-after"]))
            # Wait it out, then fail once more (a 401, recorded): the next lock is longer.
            failed = await eventually(
                lambda: _not_throttled(wrong), within_s=4 * waits[-1] + 10, interval_s=0.25
            )
            assert failed is not None
            assert failed.status_code == 401
    assert waits == sorted(waits), waits
    assert waits[-1] > waits[0], waits


async def _not_throttled(
    attempt: Callable[[], Awaitable[httpx.Response]],
) -> httpx.Response | None:
    response = await attempt()
    return None if response.status_code == 429 else response


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
        refreshed = await client.post(
            stack["gateway"].url("/api/v1/auth/refresh"),
            json={"refresh_token": tokens["refresh_token"]},
        )
        assert refreshed.status_code == 200, refreshed.text
        renewed = refreshed.json()
        await client.get(
            stack["gateway"].url("/api/v1/auth/me"), headers=bearer(renewed["access_token"])
        )
    stack.stop()
    # Whole log files: output() keeps only the tail.
    logs = "".join(service.log_path.read_text() for service in stack.services.values())
    assert '"event": "login"' in logs  # the login was logged...
    assert '"path": "/api/v1/auth/refresh"' in logs  # ...and the refresh...
    assert ADMIN_PASSWORD not in logs  # ...without their secrets
    for pair in (tokens, renewed):
        assert pair["access_token"] not in logs
        assert pair["access_token"].split(".")[2] not in logs
        assert pair["refresh_token"] not in logs


async def test_security_headers_and_body_limit(stack: PulseStack) -> None:
    async with httpx.AsyncClient() as client:
        page = await client.get(stack["gateway"].url("/"))
        huge = await client.post(
            stack["gateway"].url("/api/v1/auth/login"), content=b"x" * (2 << 20)
        )
        # Answers no route gave pass through the same edge: headers and trace context.
        traceparent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        missing = await client.get(
            stack["gateway"].url("/api/v1/nowhere"), headers={"traceparent": traceparent}
        )
        wrong_method = await client.delete(stack["gateway"].url("/api/v1/auth/login"))
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert missing.headers["traceparent"] == traceparent
    assert wrong_method.status_code == 405
    for answer in (missing, wrong_method):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "traceparent" in answer.headers
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    csp = [part.strip() for part in page.headers["content-security-policy"].split(";")]
    assert "frame-ancestors 'none'" in csp
    # the page's own origin only (its /ws included): never `ws:`/`wss:` to any host
    assert "connect-src 'self'" in csp
    assert huge.status_code == 413


# --- the operators' CLI -----------------------------------------------------------------


def test_cli_creates_users_and_api_keys(database_url: str) -> None:
    assert PULSE_CLI is not None, "the pulse console script is not installed next to python"
    env = {"PULSE_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    pulse = [PULSE_CLI]
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


async def walk_ingest_routes(stack: PulseStack) -> None:
    """Every route of ingest but health and readiness: no key is 401, a key with every
    scope but the route's is 403, a key with the route's scope gets past the check."""
    scopes: list[str] = list(get_args(Scope))
    keys: dict[tuple[str, ...], str] = {}

    async def key_for(wanted: list[str]) -> str:
        if tuple(wanted) not in keys:
            keys[tuple(wanted)] = (await create_api_key(stack, wanted))[1]
        return keys[tuple(wanted)]

    guarded = 0
    async with httpx.AsyncClient() as client:
        for method, path, access in declared_ingest_routes():
            url, where = stack["ingest"].url(path), f"{method} {path} ({access})"
            anonymous = await client.request(method, url)
            if ingest_unguarded(path):
                assert anonymous.status_code not in (401, 403), where
                continue
            guarded += 1
            assert access in scopes, where  # never public
            assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthorized")
            assert anonymous.headers["www-authenticate"] == "Bearer", where
            others = [scope for scope in scopes if scope != access]
            lacking = await client.request(method, url, headers=bearer(await key_for(others)))
            assert (lacking.status_code, lacking.json()["code"]) == (403, "forbidden"), where
            # A classroom route also needs the key to name a class (else 403 `no_class`).
            allowed_key = (
                await create_class_key(stack, "walk")
                if access == "ingest:events"
                else await key_for([access])
            )
            allowed = await client.request(method, url, headers=bearer(allowed_key))
            assert allowed.status_code not in (401, 403), where
    assert guarded >= 1


async def test_ingest_http_needs_a_valid_key_with_the_scope(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "ingest", "gateway"])
    await walk_ingest_routes(stack)
    key_id, secret = await create_api_key(stack, ["ingest:metrics"])
    _, events_only = await create_api_key(stack, ["ingest:events"])
    url = stack["ingest"].url("/api/v1/metrics")
    point = {"time": "2026-11-22T10:00:00Z", "source": "http", "name": "posted", "value": 3.5}
    async with httpx.AsyncClient() as client:
        missing = await client.post(url, json=point)
        wrong = await client.post(url, json=point, headers=bearer("pk_00000000_nope"))
        lacking = await client.post(url, json=point, headers=bearer(events_only))
        traceparent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        accepted = await client.post(
            url, json=[point, point], headers={**bearer(secret), "traceparent": traceparent}
        )
        invalid = await client.post(url, json={**point, "value": "high"}, headers=bearer(secret))
        lost = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        nowhere = await client.get(stack["ingest"].url("/nowhere"), headers={"traceparent": lost})
        too_big = await client.post(
            url, content=b"[" + b" " * (17 << 20) + b"]", headers=bearer(secret)
        )
        assert (missing.status_code, missing.json()["code"]) == (401, "unauthorized")
        assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_api_key")
        assert (lacking.status_code, lacking.json()["code"]) == (403, "forbidden")
        assert (accepted.status_code, accepted.json()) == (202, {"accepted": 2})
        assert accepted.headers["traceparent"] == traceparent
        assert (nowhere.status_code, nowhere.headers["traceparent"]) == (404, lost)
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
    # The POST's log line carries the trace id the producer sent (as the gateway's do).
    stack.stop()
    lines = [
        json.loads(line)
        for line in stack["ingest"].log_path.read_text().splitlines()
        if line.startswith("{")
    ]
    trace_id = traceparent.split("-")[1]
    assert [
        (line["event"], line["method"], line["path"], line["status"])
        for line in lines
        if line.get("trace_id") == trace_id
    ] == [("request", "POST", "/api/v1/metrics", 202)]
    assert [
        (line["event"], line["path"], line["status"])
        for line in lines
        if line.get("trace_id") == lost.split("-")[1]
    ] == [("request", "/nowhere", 404)]
    assert secret not in stack["ingest"].log_path.read_text()


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
    assert PULSE_CLI is not None, "the pulse console script is not installed next to python"
    url = f"postgresql://ops:hunter2-secret@127.0.0.1:{free_port()}/pulse"
    result = subprocess.run(
        [PULSE_CLI, "users", "list"],
        env={"PULSE_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("pulse: cannot reach the database at 127.0.0.1:")
    assert "Traceback" not in result.stderr
    assert "hunter2-secret" not in result.stderr
