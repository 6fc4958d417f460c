"""Notifications: created → delivered to an online device, a notification to everyone, and
the unread count of a full inbox.

Real processes: nats-server, PostgreSQL, auth, the notifier and one gateway. ``--users``
accounts (10,000) are written straight into auth's table (hashing 10,000 passwords would be
the whole benchmark) and get access tokens signed with auth's own key, as a login would;
``--clients`` of them (1,000) are online, one socket each on their ``notifications`` channel,
in a load process of their own.

- ``latency``: an admin sends one notification at a time through the gateway
  (``POST /api/v1/notifications``) to a random online user, ``--rate`` a second; each carries
  its send time in its body, and its recipient's socket files send-to-receipt (REST,
  notifier, database commit, outbox, JetStream, gateway). Target p99 ≤ 50 ms.
- ``everyone``: one notification to every user: the time until the API answers (stored for
  all), until every online socket has it, and until the last of its ``--users`` changes is in
  the NOTIFICATIONS stream.
- ``unread``: one user with 100,000 notifications (written in SQL) asks their unread count
  ``GET /api/v1/notifications/unread`` 1,000 times; and the notifier alone over NATS. Target
  p95 ≤ 5 ms.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import random
import tempfile
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import msgspec
import nats
from nats.aio.client import Client
from pulse_contracts import subjects
from pulse_contracts.notifications import GetUnread
from pulse_runtime.access_tokens import AccessClaims, issue_access_token

from bench.load_clients import WebSocketClient
from bench.report import percentile, summary_ms, table, write
from bench.servers import bench_database
from tests.support.stack import PulseStack, bearer, signing_key

TARGET_P99_MS = 50.0
TARGET_UNREAD_P95_MS = 5.0
FULL_INBOX = 100_000
_SPAWN = multiprocessing.get_context("spawn")


class _Device(WebSocketClient):
    def __init__(self, host: str, path: str, token: str, tally: _Tally) -> None:
        super().__init__(host, path)
        self._token = token
        self._tally = tally

    def refused(self, head: str) -> None:
        self._tally.errors.append(head)

    def opened(self) -> None:
        self.send({"type": "auth", "token": self._token})
        self.send({"type": "subscribe", "channel": "notifications"})

    def frame(self, payload: bytes) -> None:
        tally = self._tally
        if payload.startswith(b'{"type":"notification"'):
            received = time.time()
            frame = json.loads(payload)
            notification = frame.get("notification")
            if frame["change"] == "created" and notification is not None:
                tally.received.append((notification["title"], received, notification["body"]))
        elif payload.startswith(b'{"type":"ping"'):
            self.send({"type": "pong"})
        elif payload.startswith(b'{"type":"subscribed"'):
            tally.subscribed += 1
        elif payload.startswith((b'{"type":"error"', b'{"type":"gap"')):
            self._tally.errors.append(payload[:160].decode(errors="replace"))


class _Tally:
    def __init__(self) -> None:
        self.subscribed = 0
        self.received: list[tuple[str, float, str]] = []
        self.errors: list[str] = []


def _load_process(url: str, tokens: list[str], control: Connection) -> None:
    asyncio.run(_load(url, tokens, control))


async def _load(url: str, tokens: list[str], control: Connection) -> None:
    loop = asyncio.get_running_loop()
    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    tally = _Tally()
    devices = []
    for token in tokens:
        _, device = await loop.create_connection(
            lambda token=token: _Device(f"{host}:{port}", target.path, token, tally),  # type: ignore[misc]
            host,
            port,
        )
        devices.append(device)
    deadline = time.monotonic() + 120
    while tally.subscribed < len(tokens) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    control.send(("ready", tally.subscribed, tally.errors[:5]))
    while True:
        command = await asyncio.to_thread(control.recv)
        if command == "finish":
            break
        # "collect": everything received so far, then forget it
        received, tally.received = tally.received, []
        control.send(("received", received, tally.errors[:5]))
    for device in devices:
        device.close()


async def _accounts(database_url: str, count: int) -> list[tuple[str, str]]:
    """``count`` users (role ``user``) straight into auth's table: (id, email) each."""
    users = [(str(uuid.uuid4()), f"bench-{i}@pulse.bench") for i in range(count)]
    conn = await asyncpg.connect(database_url)
    try:
        await conn.copy_records_to_table(
            "users",
            schema_name="auth",
            columns=["id", "email", "password_hash", "role"],
            records=[(uuid.UUID(uid), email, "not-a-hash", "user") for uid, email in users],
        )
    finally:
        await conn.close()
    return users


async def _tokens(stack: PulseStack, users: list[tuple[str, str]]) -> list[str]:
    """Access tokens for ``users``, signed with auth's key as a login would sign them."""
    admin = await stack.token()
    kid = json.loads(base64.urlsafe_b64decode(admin.split(".")[0] + "=="))["kid"]
    key = await signing_key(stack.database_url, kid)
    now = int(time.time())
    return [
        issue_access_token(
            AccessClaims(
                sub=uid, email=email, role="user", iat=now, exp=now + 3600, jti=uuid.uuid4().hex
            ),
            key,
        )
        for uid, email in users
    ]


async def _send(client: httpx.AsyncClient, stack: PulseStack, admin: str, **body: Any) -> float:
    started = time.perf_counter()
    response = await client.post(
        stack["gateway"].url("/api/v1/notifications"), headers=bearer(admin), json=body
    )
    assert response.status_code == 201, response.text
    return time.perf_counter() - started


async def _latency(
    stack: PulseStack,
    parent: Connection,
    online: list[tuple[str, str]],
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    admin = await stack.token()
    sent = 0
    async with httpx.AsyncClient() as client:
        started = time.monotonic()
        pending: set[asyncio.Task[float]] = set()
        while (elapsed := time.monotonic() - started) < seconds:
            uid, _ = random.choice(online)
            body = json.dumps({"sent": time.time()})
            task = asyncio.create_task(
                _send(client, stack, admin, recipients={"users": [uid]}, title="latency", body=body)
            )
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
            ahead = sent / rate - elapsed
            if ahead > 0:
                await asyncio.sleep(ahead)
        await asyncio.gather(*pending)
    await asyncio.sleep(1.0)
    parent.send("collect")
    _, received, errors = await asyncio.to_thread(parent.recv)
    latencies = [
        at - json.loads(body)["sent"] for title, at, body in received if title == "latency"
    ]
    return {
        "rate_per_s": rate,
        "sent": sent,
        "delivered": len(latencies),
        "errors": errors,
        **summary_ms(latencies),
    }


async def _everyone(
    stack: PulseStack, parent: Connection, nc: Client, users: int, online: int
) -> dict[str, Any]:
    js = nc.jetstream()
    before = (await js.stream_info(subjects.NOTIFICATIONS_STREAM)).state.messages
    admin = await stack.token()
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=120) as client:
        stored_s = await _send(
            client, stack, admin, recipients={"everyone": True}, title="everyone", body=""
        )
    delivered: list[float] = []
    in_stream_s = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (len(delivered) < online or in_stream_s is None):
        if in_stream_s is None:
            messages = (await js.stream_info(subjects.NOTIFICATIONS_STREAM)).state.messages
            if messages - before >= users + 1:  # every user, and the admin
                in_stream_s = time.perf_counter() - started
        parent.send("collect")
        _, received, _ = await asyncio.to_thread(parent.recv)
        delivered.extend(at for title, at, _ in received if title == "everyone")
        await asyncio.sleep(0.05)
    wall_started = time.time() - (time.perf_counter() - started)
    all_online_s = (max(delivered) - wall_started) if len(delivered) >= online else None
    return {
        "recipients": users + 1,
        "online": online,
        "stored_s": round(stored_s, 3),
        "delivered_online": len(delivered),
        "all_online_delivered_s": round(all_online_s, 3) if all_online_s else None,
        "all_in_stream_s": round(in_stream_s, 3) if in_stream_s else None,
        "rate_per_s": round((users + 1) / in_stream_s) if in_stream_s else None,
    }


async def _unread(
    stack: PulseStack, nc: Client, user: tuple[str, str], token: str
) -> dict[str, Any]:
    uid, _ = user
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute(
            "INSERT INTO notify.notifications (recipient, kind, title, source)"
            " SELECT $1, 'info', 'n' || g, 'system' FROM generate_series(1, $2) g",
            uid,
            FULL_INBOX,
        )
        await conn.execute(
            "INSERT INTO notify.inboxes (user_id, unread, version) VALUES ($1, $2, 1)"
            " ON CONFLICT (user_id) DO UPDATE SET unread = notify.inboxes.unread + $2",
            uid,
            FULL_INBOX,
        )
        await conn.execute("ANALYZE notify.notifications")
    finally:
        await conn.close()
    rest: list[float] = []
    async with httpx.AsyncClient() as client:
        url = stack["gateway"].url("/api/v1/notifications/unread")
        for i in range(1100):
            started = time.perf_counter()
            response = await client.get(url, headers=bearer(token))
            if i >= 100:
                rest.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
        unread = response.json()["unread"]
    rpc: list[float] = []
    request = msgspec.msgpack.encode(GetUnread(user_id=uid))
    for i in range(1100):
        started = time.perf_counter()
        await nc.request(subjects.notify_rpc("unread"), request, timeout=5)
        if i >= 100:
            rpc.append(time.perf_counter() - started)
    return {
        "notifications": FULL_INBOX,
        "unread": unread,
        "rest": _with_p95(rest),
        "rpc": _with_p95(rpc),
    }


def _with_p95(values: list[float]) -> dict[str, float]:
    return {**summary_ms(values), "p95_ms": round(percentile(values, 0.95) * 1000, 2)}


async def run_notifications(*, users: int, clients: int, rate: float, seconds: float) -> int:
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-notifications-"))
    database, postgres = await bench_database(work)
    # Every load client connects from 127.0.0.1: no cap per address (as behind a proxy).
    env = {"PULSE_LOG_LEVEL": "warning", "PULSE_GATEWAY_MAX_CONNECTIONS_PER_CLIENT": "0"}
    stack = PulseStack(work / "stack", database, env)
    try:
        stack.start(["auth", "notifier", "gateway"])
        nc = await nats.connect(stack.nats_url)
        print(f"notifications: {users} users, {clients} online", flush=True)
        accounts = await _accounts(database, users)
        tokens = await _tokens(stack, accounts)
        parent, child = _SPAWN.Pipe()
        url = stack["gateway"].url("/ws").replace("http://", "ws://")
        process = _SPAWN.Process(target=_load_process, args=(url, tokens[:clients], child))
        process.start()
        try:
            _, subscribed, errors = await asyncio.to_thread(parent.recv)
            assert subscribed == clients, f"{subscribed} of {clients} subscribed: {errors}"
            print("  created → delivered", flush=True)
            latency = await _latency(stack, parent, accounts[:clients], rate, seconds)
            print("  to everyone", flush=True)
            everyone = await _everyone(stack, parent, nc, users, clients)
            parent.send("finish")
        finally:
            process.join(30)
            if process.is_alive():
                process.kill()
        print("  unread count of a full inbox", flush=True)
        unread = await _unread(stack, nc, accounts[-1], tokens[-1])
        await nc.drain()
    finally:
        stack.stop()
        if postgres is not None:
            postgres.stop()
    result = {
        "users": users,
        "online": clients,
        "latency": {**latency, "target_p99_ms": TARGET_P99_MS},
        "everyone": everyone,
        "unread": {**unread, "target_p95_ms": TARGET_UNREAD_P95_MS},
    }
    path = write("notifications", result)
    table(
        [
            (
                "created → delivered",
                f"{latency['delivered']} of {latency['sent']} at"
                f" {rate:g}/s: p50 {latency['p50_ms']} ms, p99 {latency['p99_ms']} ms"
                f" (target p99 <= {TARGET_P99_MS:g})",
            ),
            (
                "to everyone",
                f"{users + 1} users: stored in {everyone['stored_s']} s, all"
                f" {clients} online in {everyone['all_online_delivered_s']} s, all in the stream"
                f" in {everyone['all_in_stream_s']} s ({everyone['rate_per_s']}/s)",
            ),
            (
                "unread (100,000)",
                f"REST p95 {unread['rest']['p95_ms']} ms, notifier over NATS"
                f" p95 {unread['rpc']['p95_ms']} ms (target p95 <= {TARGET_UNREAD_P95_MS:g})",
            ),
        ]
    )
    print(f"results: {path}")
    met = (
        latency["delivered"] == latency["sent"]
        and latency["p99_ms"] <= TARGET_P99_MS
        and unread["rest"]["p95_ms"] <= TARGET_UNREAD_P95_MS
        and everyone["delivered_online"] >= clients
    )
    return 0 if met else 1
