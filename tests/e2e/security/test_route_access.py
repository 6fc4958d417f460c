"""Who may call what on the gateway: every REST route and every WebSocket route declares its
access and the gateway enforces it; every /ws channel kind, and who may watch it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import nats
import pytest
import websockets
from litestar.routes import HTTPRoute, WebSocketRoute
from pulse_gateway.app import describing_app
from pulse_gateway.live.channels import CHANNEL_KINDS
from pulse_runtime.web import access_of

from tests.support.accounts import USER_EMAIL, USER_PASSWORD, create_user
from tests.support.classes import create_user as create_classroom_user
from tests.support.stack import PulseStack, bearer, login

pytestmark = pytest.mark.integration

STUDENT_EMAIL = "student@pulse.test"


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
                path = path.replace("{rule_id:str}", "no-such-rule")
                path = path.replace("{trace_id:str}", "0" * 32)
                path = path.replace("{letter_id:int}", "1")
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
        ("GET", "/api/v1/admin/audit/access"),
        ("GET", "/api/v1/admin/audit/dead-letters"),
        ("GET", "/api/v1/admin/audit/dead-letters/1"),
        ("GET", "/api/v1/admin/audit/tasks"),
        ("GET", "/api/v1/admin/audit/traces/" + "0" * 32),
        ("GET", "/api/v1/admin/users"),
        ("PATCH", "/api/v1/admin/users/00000000-0000-0000-0000-000000000000"),
        ("POST", "/api/v1/admin/api-keys"),
        ("POST", "/api/v1/admin/audit/dead-letters/discard"),
        ("POST", "/api/v1/admin/audit/dead-letters/replay"),
        ("POST", "/api/v1/admin/users"),
        ("POST", "/api/v1/admin/users/00000000-0000-0000-0000-000000000000/password"),
    ]
    # Any account: its session and the classroom routes, whose handlers decide per class
    # (classroom/visibility.py); instructors and admins: creating, changing, class-wide views.
    classes = "/api/v1/classes"
    one = f"{classes}/no-such-class"
    rules = "/api/v1/alerts/rules"
    assert sorted((m, p, a) for m, p, a in ROUTES if a in ("account", "instructor")) == [
        ("DELETE", f"{rules}/no-such-rule", "instructor"),
        ("GET", rules, "instructor"),
        ("GET", f"{rules}/no-such-rule", "instructor"),
        ("GET", "/api/v1/auth/me", "account"),
        ("GET", classes, "account"),
        ("GET", one, "account"),
        ("GET", f"{one}/feed", "instructor"),
        ("GET", f"{one}/hotspots", "instructor"),
        ("GET", f"{one}/overview", "instructor"),
        ("GET", f"{one}/progress", "instructor"),
        ("GET", f"{one}/students/someone/timeline", "account"),
        ("GET", "/api/v1/notifications", "account"),
        ("GET", "/api/v1/notifications/unread", "account"),
        ("PATCH", one, "instructor"),
        ("POST", rules, "instructor"),
        ("POST", f"{rules}/preview", "instructor"),
        ("POST", "/api/v1/auth/logout", "account"),
        ("POST", classes, "instructor"),
        ("POST", f"{one}/key", "instructor"),
        ("POST", "/api/v1/notifications/mark", "account"),
        ("PUT", f"{rules}/no-such-rule", "instructor"),
    ]
    # Sending a notification: admins only (each user reads and marks their own, above).
    assert ("POST", "/api/v1/notifications", "admin") in ROUTES
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
    assert admin_routes_walked == 14


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
    assert all(access in ("account", "user", "admin") for _, access in sockets), sockets
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
    "notifications": {"admin", "user", "owner", "instructor", "student"},  # each their own
    "logs": {"admin"},  # the audit records, live
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
