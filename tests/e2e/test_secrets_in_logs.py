"""No log line of any service ever holds a secret a client sent, whatever error it caused.

A unique canary is sent as the password, token, refresh token, API key secret and key name
through every error path we know of (bad bodies, NUL bytes, too-long fields, malformed and
over-deep messages, garbage tokens, the rpc.auth verbs called directly over NATS), then every
line every service wrote is searched for it. The console format once printed the locals of a
failing function (``password='...'``) in its tracebacks.

Status codes are not checked: other tests own them. Only the logs are.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import msgspec
import nats
import nats.errors
import pytest
import websockets

from tests.support.stack import ADMIN_EMAIL, PulseStack, bearer

pytestmark = pytest.mark.integration

SERVICES = ["persistence", "auth", "ingest", "gateway", "generator"]
DEEP = 5_000  # deeper than msgspec decodes (RecursionError), well inside the body limits
MSGPACK_SUBPROTOCOL = "pulse.msgpack.v1"


class Probes:
    """Every way we know to make a service fail with the canary in hand; answers are ignored
    (each probe only has to reach its service), failures to connect are not."""

    def __init__(self, stack: PulseStack, canary: str, admin_token: str) -> None:
        self.stack = stack
        self.canary = canary
        self.admin = bearer(admin_token)
        self.sent = 0

    def gateway(self, path: str) -> str:
        return self.stack["gateway"].url(path)

    async def post(
        self,
        client: httpx.AsyncClient,
        url: str,
        body: object,
        headers: dict[str, str] | None = None,
    ) -> None:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
        await client.post(url, content=content, headers=headers)
        self.sent += 1

    def deep_body(self, **fields: str) -> bytes:
        """A JSON object with the canary fields and one field nested too deeply to decode."""
        return json.dumps(fields)[:-1].encode() + b', "x": ' + b"[" * DEEP + b"]" * DEEP + b"}"

    def bad_utf8_body(self, field: str, **fields: str) -> bytes:
        """The canary fields, then ``field`` holding the canary and a byte that is not UTF-8."""
        return (
            json.dumps(fields)[:-1].encode() + f', "{field}": "{self.canary}'.encode() + b'\xff"}'
        )

    async def http(self) -> None:
        canary = self.canary
        async with httpx.AsyncClient(timeout=30) as client:
            login = self.gateway("/api/v1/auth/login")
            for body in (
                {"email": "not-an-email", "password": canary},
                {"email": "nobody@pulse.test", "password": canary},
                {"email": ADMIN_EMAIL, "password": canary},
                {"email": "a@pulse.test", "password": canary + "\x00"},
                {"email": "a\x00@pulse.test", "password": canary},
                {"email": "a@pulse.test", "password": canary * 100},
                {"email": "x" * 300 + "@pulse.test", "password": canary},
                {"email": 1, "password": canary},
                {"password": canary},
                {"email": "a@pulse.test", "password": [canary]},
                self.deep_body(email="a@pulse.test", password=canary),
                self.bad_utf8_body("password", email="a@pulse.test"),
                f'{{"email": "a@pulse.test", "password": "{canary}'.encode(),  # truncated
            ):
                await self.post(client, login, body)

            users = self.gateway("/api/v1/admin/users")
            created = await client.post(
                users,
                json={"email": "canary-user@pulse.test", "password": canary, "role": "user"},
                headers=self.admin,
            )
            user_id = created.json().get("id", str(uuid.uuid4()))
            for body in (
                {"email": "bad", "password": canary},
                {"email": "u@pulse.test", "password": canary + "\x00"},
                {"email": "u\x00@pulse.test", "password": canary},
                {"email": "u@pulse.test", "password": canary * 100},
                {"email": "u@pulse.test", "password": canary, "role": "god"},
                {"email": "canary-user@pulse.test", "password": canary},  # already exists
                self.deep_body(email="u@pulse.test", password=canary),
                self.bad_utf8_body("password", email="u@pulse.test"),
            ):
                await self.post(client, users, body, self.admin)

            for target in (user_id, str(uuid.uuid4()), "not-a-uuid"):
                reset = self.gateway(f"/api/v1/admin/users/{target}/password")
                for body in (
                    {"password": canary},
                    {"password": canary + "\x00"},
                    {"password": canary * 100},
                    {"password": 5, "other": canary},
                    self.deep_body(password=canary),
                    self.bad_utf8_body("password"),
                ):
                    await self.post(client, reset, body, self.admin)

            keys = self.gateway("/api/v1/admin/api-keys")
            for body in (
                {"name": canary + "\x00", "scopes": ["ingest:metrics"]},
                {"name": canary * 10, "scopes": ["ingest:metrics"]},
                {"name": canary, "scopes": ["root"]},
                {"name": canary, "scopes": []},
                self.deep_body(name=canary),
                self.bad_utf8_body("name", scopes="ingest:metrics"),
            ):
                await self.post(client, keys, body, self.admin)

            refresh = self.gateway("/api/v1/auth/refresh")
            for body in (
                {"refresh_token": canary},
                {"refresh_token": canary + "\x00"},
                {"refresh_token": canary * 100},
                self.deep_body(refresh_token=canary),
                self.bad_utf8_body("refresh_token"),
            ):
                await self.post(client, refresh, body)
            async with httpx.AsyncClient(cookies={"pulse_refresh": canary}) as with_cookie:
                await with_cookie.post(refresh)
            await self.post(client, self.gateway("/api/v1/auth/logout"), {}, bearer(canary))
            for path in ("/api/v1/auth/me", "/api/v1/metrics?type=cpu&from=2026-01-01T00:00:00Z"):
                await client.get(self.gateway(path), headers=bearer(canary))
                self.sent += 1

            ingest = self.stack["ingest"].url("/api/v1/metrics")
            for secret in (canary, "pk_" + canary, canary * 100):
                await self.post(client, ingest, b"[]", bearer(secret))
                await self.post(client, ingest, b"{oops", bearer(secret))
            # Last: it ends the admin's session.
            await self.post(
                client, self.gateway("/api/v1/auth/logout"), {"refresh_token": canary}, self.admin
            )

    async def websockets(self) -> None:
        canary = self.canary
        ws = self.gateway("/ws").replace("http://", "ws://")
        ws_metrics = self.gateway("/ws/metrics?type=cpu").replace("http://", "ws://")
        auth_frame = json.dumps({"type": "auth", "token": canary})
        attempts: list[tuple[str, dict[str, Any], str | bytes]] = [
            (ws, {}, auth_frame),
            (ws_metrics, {}, auth_frame),
            (ws, {"additional_headers": bearer(canary)}, auth_frame),
            (ws_metrics, {"additional_headers": bearer(canary)}, auth_frame),
            (
                ws,
                {"subprotocols": [MSGPACK_SUBPROTOCOL]},
                msgspec.msgpack.encode({"type": "auth", "token": canary}),
            ),
            (
                ws,
                {"subprotocols": [MSGPACK_SUBPROTOCOL]},
                msgspec.msgpack.encode({"type": "auth", "token": canary + "\x00"}).replace(
                    b"\x00", b"\xff"
                ),
            ),
            (ws, {}, '{"type": "auth", "token": "' + canary + '", "x": ' + "[" * DEEP),
        ]
        for url, options, first in attempts:
            async with websockets.connect(url, **options) as socket:
                with contextlib.suppress(websockets.ConnectionClosed, TimeoutError):
                    await socket.send(first)
                    await asyncio.wait_for(socket.recv(), 10)
            self.sent += 1
        # Authenticated, then a garbage renewal: on /ws and on /ws/metrics.
        for url in (ws, ws_metrics):
            async with websockets.connect(url, additional_headers=self.admin) as socket:
                with contextlib.suppress(websockets.ConnectionClosed, TimeoutError):
                    await asyncio.wait_for(socket.recv(), 2)
                    await socket.send(auth_frame)
                    await socket.send(json.dumps({"type": "subscribe", "channel": canary}))
                    await asyncio.wait_for(socket.recv(), 2)
            self.sent += 1

    async def nats(self) -> None:
        """The rpc.auth verbs as a (mis)behaving NATS client would call them: only the gateway
        may, in production (docs/nats-permissions.md), so this is the gateway misbehaving."""
        canary = self.canary
        nc = await nats.connect(self.stack.nats_url)
        try:
            pack = msgspec.msgpack.encode
            deep = msgspec.Raw(b"\x91" * 100_000 + b"\x90")
            user_id = str(uuid.uuid4())
            requests: list[tuple[str, bytes]] = [
                ("login", pack({"type": "login", "email": "a@pulse.test", "password": canary})),
                ("login", pack({"type": "login", "email": "a\x00@b.c", "password": canary})),
                ("login", pack({"type": "login", "email": "a@b.c", "password": canary + "\x00"})),
                ("login", pack({"type": "login", "email": "a@b.c", "password": canary, "x": deep})),
                ("login", pack({"type": "login", "email": 5, "password": canary})),
                ("login", pack({"type": "login", "email": "a@b.c", "password": canary})[:-3]),
                (
                    "login",
                    pack({"type": "login", "email": "a@b.c", "password": canary + "\x00"}).replace(
                        b"\x00", b"\xff"
                    ),
                ),
                ("keys", pack({"type": "login", "email": "a@b.c", "password": canary})),
                ("refresh", pack({"type": "refresh", "refresh_token": canary})),
                ("refresh", pack({"type": "refresh", "refresh_token": canary + "\x00"})),
                (
                    "logout",
                    pack({"type": "logout", "user_id": "not-a-uuid", "refresh_token": canary}),
                ),
                (
                    "logout",
                    pack({"type": "logout", "user_id": user_id, "refresh_token": canary + "\x00"}),
                ),
                (
                    "users.create",
                    pack({"type": "create_user", "email": "n@pulse.test", "password": canary}),
                ),
                (
                    "users.create",
                    pack(
                        {
                            "type": "create_user",
                            "email": "m@pulse.test",
                            "password": canary + "\x00",
                        }
                    ),
                ),
                (
                    "users.create",
                    pack({"type": "create_user", "email": "n\x00@b.c", "password": canary}),
                ),
                (
                    "users.reset_password",
                    pack({"type": "reset_password", "user_id": user_id, "password": canary}),
                ),
                (
                    "users.reset_password",
                    pack(
                        {"type": "reset_password", "user_id": "nope", "password": canary + "\x00"}
                    ),
                ),
                (
                    "apikeys.create",
                    pack({"type": "create_api_key", "name": canary + "\x00", "scopes": ["x"]}),
                ),
                (
                    "apikeys.create",
                    pack(
                        {
                            "type": "create_api_key",
                            "name": canary + "\x00",
                            "scopes": ["ingest:metrics"],
                            "created_by": "not-a-uuid",
                        }
                    ),
                ),
                ("apikeys.verify", pack({"type": "verify_api_key", "secret": canary})),
                ("apikeys.verify", pack({"type": "verify_api_key", "secret": canary + "\x00"})),
                ("apikeys.revoke", pack({"type": "revoke_api_key", "api_key_id": canary})),
            ]
            for verb, data in requests:
                await nc.request(f"rpc.auth.{verb}", data, timeout=10)
                self.sent += 1
            # A producer's message that also carries a secret-looking field.
            await nc.request(
                "ingest.metrics",
                json.dumps({"password": canary, "value": "x" + canary}).encode(),
                timeout=10,
            )
            self.sent += 1
        finally:
            await nc.drain()


def lines_with(text: str, stack: PulseStack) -> dict[str, list[str]]:
    """Every line of every service's log that holds ``text``, by service."""
    found = {}
    for name, service in stack.services.items():
        lines = service.log_path.read_text(errors="replace").splitlines()
        if hits := [line for line in lines if text in line]:
            found[name] = hits[:5]
    return found


async def run_quietly(probe: Callable[[], Awaitable[None]]) -> None:
    await asyncio.wait_for(probe(), 240)


@pytest.mark.parametrize(
    ("log_format", "level"), [("console", "info"), ("json", "debug")], ids=["console", "json"]
)
async def test_no_secret_sent_through_any_error_path_reaches_any_log_line(
    make_stack: Any, log_format: str, level: str
) -> None:
    canary = f"cnry{uuid.uuid4().hex}"
    stack: PulseStack = make_stack(PULSE_LOG_FORMAT=log_format, PULSE_LOG_LEVEL=level)
    stack.start(SERVICES)
    probes = Probes(stack, canary, await stack.token())
    await run_quietly(probes.websockets)
    await run_quietly(probes.nats)
    await run_quietly(probes.http)  # last: it ends with the admin logging out
    stack.stop()  # every process flushes its last lines
    assert probes.sent > 80
    logged = sum(
        len(s.log_path.read_text(errors="replace").splitlines()) for s in stack.services.values()
    )
    assert logged > 50, "the services logged (almost) nothing: nothing was checked"
    # The whole canary, and its first half (a renderer may cut a long value short).
    assert lines_with(canary, stack) == {}
    assert lines_with(canary[:20], stack) == {}
