"""The multiplexed ``/ws`` socket against real gateways, nats-server and JetStream."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import nats
import pytest
import websockets
from nats.aio.client import Client
from pulse_runtime.access_tokens import AccessClaims, issue_access_token
from websockets.asyncio.client import ClientConnection
from websockets.client import ClientProtocol
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from tests.support.stack import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    PulseStack,
    bearer,
    eventually,
    signing_key,
)

pytestmark = pytest.mark.integration

SERVICES = ["auth", "ingest", "gateway"]
MSGPACK_SUBPROTOCOL = Subprotocol("pulse.msgpack.v1")


def binary(frame: str | bytes) -> bytes:
    """A frame on the msgpack subprotocol: always a binary one."""
    assert isinstance(frame, bytes), frame
    return frame


def ws_url(stack: PulseStack, gateway: str = "gateway") -> str:
    return stack[gateway].url("/ws").replace("http://", "ws://")


class Socket:
    """A test client speaking the /ws protocol in JSON."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, **frame: Any) -> None:
        await self.connection.send(json.dumps(frame))

    async def receive(self, within_s: float = 10) -> dict[str, Any]:
        while True:
            frame: dict[str, Any] = json.loads(
                await asyncio.wait_for(self.connection.recv(), within_s)
            )
            if frame["type"] != "ping":
                return frame
            await self.send(type="pong")  # as every client must, or it is closed with 4409

    async def data_until(self, frames: list[dict[str, Any]], *, values: int) -> None:
        """Append data frames to ``frames`` until they hold ``values`` points in all."""
        while len(values_of(frames)) < values:
            frames.append(await self.until("data"))

    async def until(self, kind: str, within_s: float = 10) -> dict[str, Any]:
        while True:
            frame = await self.receive(within_s)
            if frame["type"] == kind:
                return frame


@contextlib.asynccontextmanager
async def open_socket(
    stack: PulseStack, gateway: str = "gateway", **kwargs: Any
) -> AsyncIterator[Socket]:
    async with websockets.connect(ws_url(stack, gateway), **kwargs) as connection:
        socket = Socket(connection)
        await socket.send(type="auth", token=await stack.token())
        ready = await socket.receive()
        assert ready["type"] == "ready", ready
        yield socket


class StalledClient:
    """A socket that stops reading after its handshake: sans-I/O websockets over a raw
    connection with a tiny receive buffer, so the gateway notices within a few frames (a
    loopback socket may otherwise buffer tens of megabytes)."""

    def __init__(
        self, protocol: ClientProtocol, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.protocol = protocol
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, stack: PulseStack, url: str | None = None) -> StalledClient:
        """To ``/ws`` unless ``url`` says otherwise (``/ws/metrics?...``)."""
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # before connect
        raw.connect(("127.0.0.1", stack["gateway"].port))
        raw.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=raw, limit=8192)
        protocol = ClientProtocol(parse_uri(url or ws_url(stack)), max_size=None)
        protocol.send_request(protocol.connect())
        client = cls(protocol, reader, writer)
        await client._flush()
        while protocol.handshake_exc is None and not protocol.events_received():
            protocol.receive_data(await reader.read(4096))
        await client.send({"type": "auth", "token": await stack.token()})
        return client

    async def send(self, frame: dict[str, Any]) -> None:
        self.protocol.send_text(json.dumps(frame).encode())
        await self._flush()

    async def read_to_close(self) -> int | None:
        """Read everything the gateway sent; the close code it ended with."""
        while data := await asyncio.wait_for(self.reader.read(1 << 20), 30):
            self.protocol.receive_data(data)
            if self.protocol.close_rcvd is not None:
                return self.protocol.close_rcvd.code
        return None

    async def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            self.writer.write(data)
        await self.writer.drain()


class Publisher:
    """Points of one series, value = their index, acknowledged by ingest one by one."""

    def __init__(self, nc: Client, source: str, name: str) -> None:
        self.nc = nc
        self.source = source
        self.name = name
        self.sent = 0

    async def publish(self, count: int, every_s: float = 0.0) -> None:
        for _ in range(count):
            point = {
                "time": datetime.now(UTC).isoformat(),
                "source": self.source,
                "name": self.name,
                "value": float(self.sent),
            }
            reply = await self.nc.request("ingest.metrics", json.dumps(point).encode(), timeout=10)
            assert b"accepted" in reply.data, reply.data
            self.sent += 1
            if every_s:
                await asyncio.sleep(every_s)


async def close_code(
    connection: ClientConnection, *, answer_pings: bool = False, within_s: float = 30
) -> int | None:
    """Read until the gateway closes the socket; the code it closed with."""
    code, _ = await closed_with(connection, answer_pings=answer_pings, within_s=within_s)
    return code


async def closed_with(
    connection: ClientConnection, *, answer_pings: bool = False, within_s: float = 30
) -> tuple[int | None, str | None]:
    """Read until the gateway closes the socket; the code and reason it closed with."""
    try:
        while True:
            raw = await asyncio.wait_for(connection.recv(), within_s)
            if answer_pings and json.loads(raw)["type"] == "ping":
                await connection.send(json.dumps({"type": "pong"}))
    except websockets.ConnectionClosed as closed:
        if closed.rcvd is None:
            return None, None
        return closed.rcvd.code, closed.rcvd.reason


def values_of(frames: list[dict[str, Any]]) -> list[float]:
    return [point["value"] for frame in frames for point in frame["points"]]


async def test_history_then_live_without_gap_or_duplicate(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(SERVICES)
    nc = await nats.connect(stack.nats_url)
    publisher = Publisher(nc, "ws_a", "seam")
    await publisher.publish(40)
    # Points keep arriving while the subscription reads its history: the seam is exercised.
    publishing = asyncio.create_task(publisher.publish(60, every_s=0.01))
    try:
        async with open_socket(stack) as socket:
            await asyncio.sleep(0.1)
            await socket.send(
                type="subscribe", channel="metric:seam", history={"minutes": 5, "max_points": 1000}
            )
            subscribed = await socket.until("subscribed")
            await publishing
            history = subscribed["history"]
            assert history["bucket_s"] == 0
            [series] = history["series"]
            assert (series["source"], series["name"]) == ("ws_a", "seam")
            seen = [point["avg"] for point in series["points"]]
            frames: list[dict[str, Any]] = []
            while len(seen) + len(values_of(frames)) < 100:
                frame = await socket.until("data")
                assert frame["channel"] == "metric:seam"
                frames.append(frame)
    finally:
        await nc.drain()
    seqs = [frame["seq"] for frame in frames]
    assert seqs == sorted(set(seqs))
    assert seqs[0] > subscribed["seq"]
    assert seen + values_of(frames) == [float(i) for i in range(100)]


async def test_a_client_resumes_on_another_gateway_without_gap_or_duplicate(
    make_stack: Any,
) -> None:
    stack: PulseStack = make_stack()
    stack.start(SERVICES)
    first = stack["gateway"]
    stack.start(["gateway"])  # a second gateway process on ports of its own
    stack.services["gateway2"], stack.services["gateway"] = stack["gateway"], first
    nc = await nats.connect(stack.nats_url)
    publisher = Publisher(nc, "ws_b", "resume")
    received: list[dict[str, Any]] = []
    try:
        async with open_socket(stack, "gateway") as socket:
            await socket.send(type="subscribe", channel="series:ws_b:resume")
            await socket.until("subscribed")
            await publisher.publish(10)
            await socket.data_until(received, values=10)
        await publisher.publish(15)  # missed while away
        async with open_socket(stack, "gateway2") as socket:
            await socket.send(
                type="subscribe", channel="series:ws_b:resume", resume_from=received[-1]["seq"]
            )
            subscribed = await socket.until("subscribed")
            assert subscribed["seq"] == received[-1]["seq"]
            publishing = asyncio.create_task(publisher.publish(15, every_s=0.02))
            await socket.data_until(received, values=40)
            await publishing
    finally:
        await nc.drain()
    assert values_of(received) == [float(i) for i in range(40)]
    seqs = [frame["seq"] for frame in received]
    assert seqs == sorted(set(seqs))


async def test_resuming_from_a_part_no_longer_stored_gets_a_gap_frame(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(SERVICES)
    nc = await nats.connect(stack.nats_url)
    publisher = Publisher(nc, "ws_c", "purged")
    try:
        await publisher.publish(10)
        js = nc.jetstream()
        last = (await js.stream_info("METRICS")).state.last_seq
        await js.purge_stream("METRICS", seq=last - 2)  # keeps the last three messages
        async with open_socket(stack) as socket:
            await socket.send(type="subscribe", channel="metric:purged", resume_from=1)
            await socket.until("subscribed")
            gap = await socket.receive()
            assert gap == {
                "type": "gap",
                "channel": "metric:purged",
                "after_seq": 1,
                "before_seq": last - 2,
                "reason": "no longer stored in the stream",
            }
            replayed = [await socket.until("data") for _ in range(3)]
    finally:
        await nc.drain()
    assert values_of(replayed) == [7.0, 8.0, 9.0]


async def test_max_rate_sends_the_latest_value_per_interval(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(SERVICES)
    nc = await nats.connect(stack.nats_url)
    publisher = Publisher(nc, "ws_d", "fast")
    try:
        async with open_socket(stack) as socket:
            await socket.send(type="subscribe", channel="metric:fast", max_rate=2)
            subscribed = await socket.until("subscribed")
            assert subscribed["max_rate"] == 2
            await publisher.publish(60, every_s=0.025)  # about 1.5 s at 40 points/s
            frames = []
            with contextlib.suppress(TimeoutError):
                while True:
                    frames.append(await socket.until("data", within_s=1.5))
    finally:
        await nc.drain()
    assert 2 <= len(frames) <= 6, len(frames)
    assert values_of(frames)[-1] == 59.0  # the latest value always arrives


async def test_msgpack_subprotocol_gets_binary_frames(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(SERVICES)
    nc = await nats.connect(stack.nats_url)
    try:
        async with websockets.connect(ws_url(stack), subprotocols=[MSGPACK_SUBPROTOCOL]) as ws:
            assert ws.subprotocol == MSGPACK_SUBPROTOCOL
            await ws.send(msgspec.msgpack.encode({"type": "auth", "token": await stack.token()}))
            ready = msgspec.msgpack.decode(binary(await ws.recv()))
            assert ready["type"] == "ready"
            await ws.send(msgspec.msgpack.encode({"type": "subscribe", "channel": "metric:packed"}))
            assert msgspec.msgpack.decode(binary(await ws.recv()))["type"] == "subscribed"
            await Publisher(nc, "ws_e", "packed").publish(1)
            frame = await asyncio.wait_for(ws.recv(), 10)
    finally:
        await nc.drain()
    assert isinstance(frame, bytes)
    data = msgspec.msgpack.decode(frame)
    assert (data["type"], data["name"], data["points"][0]["value"]) == ("data", "packed", 0.0)


async def test_scripts_may_authenticate_on_the_handshake(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(SERVICES)
    headers = bearer(await stack.token())
    async with websockets.connect(ws_url(stack), additional_headers=headers) as ws:
        ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert (ready["type"], ready["role"]) == ("ready", "admin")


async def test_bad_frames_get_errors_and_never_disturb_other_clients(make_stack: Any) -> None:
    stack: PulseStack = make_stack(PULSE_WS_SUBSCRIBE_BURST="5", PULSE_WS_SUBSCRIBE_RATE="1")
    stack.start(SERVICES)
    nc = await nats.connect(stack.nats_url)
    publisher = Publisher(nc, "ws_f", "steady")
    user_token = await _user_token(stack)
    try:
        async with open_socket(stack) as watcher:
            await watcher.send(type="subscribe", channel="metric:steady")
            await watcher.until("subscribed")
            publishing = asyncio.create_task(publisher.publish(50, every_s=0.05))

            async with open_socket(stack) as bad:
                await bad.connection.send("{not json")
                assert (await bad.until("error"))["code"] == "bad_frame"
                await bad.send(type="subscribe", channel="nonsense:x")
                assert (await bad.until("error"))["code"] == "unknown_channel"
                await bad.send(type="subscribe", channel="metric:a.b")
                assert (await bad.until("error"))["code"] == "unknown_channel"
                await bad.send(type="unsubscribe", channel="metric:never")
                assert (await bad.until("error"))["code"] == "not_subscribed"
                await bad.send(type="subscribe", channel="metric:x", history={"minutes": 9999})
                assert (await bad.until("error"))["code"] == "history_too_long"
                for _ in range(8):  # a burst of 5 allowed, then refusals, then the close
                    await bad.send(type="subscribe", channel="metric:flood")
                assert await closed_with(bad.connection, answer_pings=True) == (
                    4429,
                    "too many subscribe requests",
                )

            async with open_socket(stack) as garbled:
                for _ in range(40):  # unreadable frames, past the refusals a socket may earn
                    await garbled.connection.send("{not json")
                assert await closed_with(garbled.connection, answer_pings=True) == (
                    4400,
                    "too many refused frames",
                )

            async with websockets.connect(ws_url(stack)) as ws:
                await ws.send(json.dumps({"type": "auth", "token": user_token}))
                assert json.loads(await ws.recv())["role"] == "user"
                await ws.send(json.dumps({"type": "subscribe", "channel": "class:py101"}))
                error = json.loads(await ws.recv())
                assert (error["type"], error["code"]) == ("error", "forbidden")
                await ws.send("x" * 70_000)
                assert await close_code(ws) == 1009

            frames: list[dict[str, Any]] = []
            await watcher.data_until(frames, values=50)
            await publishing
    finally:
        await nc.drain()
    assert values_of(frames) == [float(i) for i in range(50)]


async def _user_token(stack: PulseStack) -> str:
    async with httpx.AsyncClient(base_url=stack["gateway"].url("")) as client:
        created = await client.post(
            "/api/v1/admin/users",
            json={
                "email": "ws-user@example.com",
                "password": "a long user password",
                "role": "user",
            },
            headers=bearer(await stack.token()),
        )
        assert created.status_code == 201, created.text
        login = await client.post(
            "/api/v1/auth/login",
            json={"email": "ws-user@example.com", "password": "a long user password"},
        )
        token: str = login.json()["access_token"]
        return token


async def test_clients_share_one_subscription_per_channel(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(SERVICES)
    metrics = f"http://127.0.0.1:{stack['gateway'].env['PULSE_GATEWAY_METRICS_PORT']}/metrics"
    nc = await nats.connect(stack.nats_url)

    async def gauge(name: str) -> float:
        async with httpx.AsyncClient() as client:
            text = (await client.get(metrics)).text
        return next(
            float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")
        )

    async with open_socket(stack) as first, open_socket(stack) as second:
        for socket in (first, second):
            await socket.send(type="subscribe", channel="metric:shared")
            await socket.until("subscribed")
        await second.send(type="subscribe", channel="metric:other")
        await second.until("subscribed")
        assert await gauge("pulse_gateway_live_channels") == 2
        assert await gauge("pulse_gateway_live_clients") == 3
        await second.send(type="unsubscribe", channel="metric:other")
        assert (await second.until("unsubscribed"))["channel"] == "metric:other"
        assert await eventually(lambda: _equals(gauge("pulse_gateway_live_channels"), 1))
        await Publisher(nc, "ws_h", "shared").publish(1)
        for socket in (first, second):
            assert values_of([await socket.until("data")]) == [0.0]
        # Caught-up sockets get the shared, ready-made frame written straight to them.
        assert await gauge("pulse_gateway_ws_frames_direct") == 2
    assert await eventually(lambda: _equals(gauge("pulse_gateway_live_channels"), 0))
    await nc.drain()


async def _equals(value: Any, expected: float) -> bool:
    return bool(await value == expected)


async def test_heartbeats_and_the_close_codes_for_silence_and_shutdown(make_stack: Any) -> None:
    stack: PulseStack = make_stack(PULSE_WS_HEARTBEAT_S="1")
    stack.start(SERVICES)
    async with open_socket(stack) as silent, open_socket(stack) as chatty:
        ping = json.loads(await asyncio.wait_for(chatty.connection.recv(), 5))
        assert ping == {"type": "ping"}
        await chatty.send(type="ping")
        assert await chatty.receive() == {"type": "pong"}
        assert await close_code(silent.connection) == 4409  # it never answered a ping
        stack["gateway"].process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        assert await close_code(chatty.connection, answer_pings=True) == 1012


async def test_an_unread_socket_is_closed_as_a_slow_consumer_and_others_keep_up(
    make_stack: Any,
) -> None:
    stack: PulseStack = make_stack(PULSE_WS_OUTBOX_FRAMES="8", PULSE_WS_SLOW_CONSUMER_GRACE_S="30")
    stack.start(SERVICES)
    nc = await nats.connect(stack.nats_url)
    now = datetime.now(UTC)

    def bulky(message: int) -> bytes:  # about 150 KB of JSON; each message different
        return json.dumps(
            [
                {"time": (now - timedelta(seconds=message * 2000 + i)).isoformat(),
                 "source": "ws_g", "name": "bulky", "value": float(i)}
                for i in range(2000)
            ]
        ).encode()  # fmt: skip

    stalled = await StalledClient.connect(stack)
    try:
        async with open_socket(stack) as reader:
            await reader.send(type="subscribe", channel="metric:bulky")
            await reader.until("subscribed")
            await stalled.send({"type": "subscribe", "channel": "metric:bulky"})
            await asyncio.sleep(0.5)
            frames: list[dict[str, Any]] = []

            async def read_all() -> None:
                while len(frames) < 200:
                    frames.append(await reader.until("data", within_s=30))

            reading = asyncio.create_task(read_all())
            for message in range(200):
                await nc.request("ingest.metrics", bulky(message), timeout=10)
            await reading
        close_code = await stalled.read_to_close()
    finally:
        await nc.drain()
        stalled.writer.close()
    assert [frame["type"] for frame in frames] == ["data"] * 200  # no gap, nothing skipped
    assert close_code == 4408


async def test_a_socket_that_never_reads_again_is_cut_off_after_the_close_timeout(
    make_stack: Any,
) -> None:
    stack: PulseStack = make_stack(PULSE_WS_OUTBOX_FRAMES="4", PULSE_WS_CLOSE_TIMEOUT_S="2")
    stack.start(SERVICES)
    metrics = f"http://127.0.0.1:{stack['gateway'].env['PULSE_GATEWAY_METRICS_PORT']}/metrics"

    async def open_sockets() -> float:
        async with httpx.AsyncClient() as client:
            text = (await client.get(metrics)).text
        return next(
            float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("pulse_gateway_ws_sockets ")
        )

    nc = await nats.connect(stack.nats_url)
    stalled = await StalledClient.connect(stack)
    try:
        await stalled.send({"type": "subscribe", "channel": "metric:flooded"})
        await asyncio.sleep(0.5)
        assert await open_sockets() == 1
        now = datetime.now(UTC)
        for message in range(80):  # about 12 MB: more than any socket buffer holds
            bulk = [
                {"time": (now - timedelta(seconds=message * 2000 + i)).isoformat(),
                 "source": "ws_i", "name": "flooded", "value": float(i)}
                for i in range(2000)
            ]  # fmt: skip
            await nc.request("ingest.metrics", json.dumps(bulk).encode(), timeout=10)
        # The gateway gave up on it (4408) and, the close frame never getting through, cut it.
        assert await eventually(lambda: _equals(open_sockets(), 0), within_s=15)
    finally:
        await nc.drain()
        stalled.writer.close()


# --- authentication: in time, valid, renewed, revoked ---------------------------------------


def claims_of(token: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    return payload


async def closed_by_gateway(connection: ClientConnection, within_s: float = 30) -> tuple[int, str]:
    """Read (answering pings) until the gateway closes the socket: its (code, reason). A
    socket still open after ``within_s`` fails the test (TimeoutError)."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(read_until_closed(connection), within_s)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def read_until_closed(connection: ClientConnection) -> None:
    while True:
        frame = json.loads(await connection.recv())
        if frame["type"] == "ping":
            await connection.send(json.dumps({"type": "pong"}))


async def test_without_a_valid_token_in_time_the_socket_closes_with_4401(
    make_stack: Any,
) -> None:
    stack: PulseStack = make_stack()
    stack.start(SERVICES)
    valid = await stack.token()
    # Properly signed with auth's real key, only its lifetime is over.
    key = await signing_key(stack.database_url, json.loads(base64.urlsafe_b64decode(
        valid.split(".")[0] + "=="))["kid"])  # fmt: skip
    now = int(time.time())
    expired = issue_access_token(
        AccessClaims(**{**claims_of(valid), "iat": now - 3600, "exp": now - 1800}), key
    )
    first_frames = {
        "authentication required": None,  # says nothing within the 5 s allowed
        "invalid token (malformed)": json.dumps({"type": "auth", "token": "not-a-token"}),
        "invalid token (expired)": json.dumps({"type": "auth", "token": expired}),
    }

    async def refused(first_frame: str | None) -> tuple[int, str]:
        async with websockets.connect(ws_url(stack)) as connection:
            if first_frame is not None:
                await connection.send(first_frame)
            return await closed_by_gateway(connection)

    closes = await asyncio.gather(*(refused(frame) for frame in first_frames.values()))
    assert closes == [(4401, reason) for reason in first_frames]
    async with websockets.connect(ws_url(stack)) as connection:  # and a valid one is let in
        await connection.send(json.dumps({"type": "auth", "token": valid}))
        assert json.loads(await asyncio.wait_for(connection.recv(), 10))["type"] == "ready"


async def test_a_socket_closes_at_token_expiry_unless_a_fresh_auth_frame_came(
    make_stack: Any,
) -> None:
    """Tokens live 6 s here. ``lapsing`` never renews (a bad renewal does not count) and is
    closed with 4401; ``renewed`` sends a token from a refresh and keeps receiving data past
    its first token's expiry, until the fresh token's own expiry closes it."""
    stack: PulseStack = make_stack(PULSE_AUTH_ACCESS_TOKEN_TTL_S="6")
    stack.start(SERVICES)
    async with httpx.AsyncClient() as client:
        logins = [
            (
                await client.post(
                    stack["gateway"].url("/api/v1/auth/login"),
                    json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
                )
            ).json()
            for _ in range(2)
        ]
    first, second = logins[0]["access_token"], logins[1]["access_token"]
    nc = await nats.connect(stack.nats_url)
    publishing = asyncio.create_task(Publisher(nc, "ws_j", "lease").publish(1000, every_s=0.05))
    try:
        async with (
            websockets.connect(ws_url(stack)) as lapsing_ws,
            websockets.connect(ws_url(stack)) as renewed_ws,
        ):
            lapsing, renewed = Socket(lapsing_ws), Socket(renewed_ws)
            for socket_, token in ((lapsing, first), (renewed, second)):
                await socket_.send(type="auth", token=token)
                ready = await socket_.until("ready")
                assert ready["expires_at"].startswith(
                    datetime.fromtimestamp(claims_of(token)["exp"], UTC).isoformat()[:19]
                )
                await socket_.send(type="subscribe", channel="metric:lease")
                await socket_.until("subscribed")
            await lapsing.send(type="auth", token="not-a-token")
            assert (await lapsing.until("error"))["code"] == "invalid_token"
            # Half the lifetime later, a fresh token from the refresh token, in time.
            await asyncio.sleep(3)
            async with httpx.AsyncClient() as client:
                refreshed = await client.post(
                    stack["gateway"].url("/api/v1/auth/refresh"),
                    json={"refresh_token": logins[1]["refresh_token"]},
                )
            fresh = refreshed.json()["access_token"]
            first_expiry = claims_of(second)["exp"]
            assert claims_of(fresh)["exp"] >= first_expiry + 2
            await renewed.send(type="auth", token=fresh)

            assert await closed_by_gateway(lapsing.connection) == (4401, "token expired")
            # Past the second socket's first token (and a sweep of the gateway after it):
            # still open, still receiving.
            while time.time() < first_expiry + 1.2:
                await renewed.until("data")
            assert time.time() < claims_of(fresh)["exp"]
            assert (await renewed.until("data"))["channel"] == "metric:lease"
            # Without another renewal, the fresh token's expiry closes it in turn.
            assert await closed_by_gateway(renewed.connection) == (4401, "token expired")
            assert time.time() >= claims_of(fresh)["exp"]
    finally:
        publishing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publishing
        await nc.drain()


async def test_disabling_a_user_closes_their_open_sockets(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(SERVICES)
    email, password = f"ws-{uuid.uuid4().hex[:8]}@example.com", "a long user password"
    admin = await stack.token()
    async with httpx.AsyncClient(base_url=stack["gateway"].url("")) as client:
        created = await client.post(
            "/api/v1/admin/users",
            json={"email": email, "password": password, "role": "user"},
            headers=bearer(admin),
        )
        assert created.status_code == 201, created.text
        logged_in = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": password}
        )
        user_token = logged_in.json()["access_token"]
        async with (
            websockets.connect(ws_url(stack)) as user_ws,
            open_socket(stack) as admin_socket,
        ):
            user = Socket(user_ws)
            await user.send(type="auth", token=user_token)
            assert (await user.until("ready"))["role"] == "user"
            await user.send(type="subscribe", channel="metric:revoked")
            await user.until("subscribed")
            disabled = await client.patch(
                f"/api/v1/admin/users/{created.json()['id']}",
                json={"disabled": True},
                headers=bearer(admin),
            )
            assert disabled.json()["disabled"] is True
            # The gateway learns of the revocation (auth.revocations) and its sweep closes it.
            assert await closed_by_gateway(user.connection) == (4401, "token revoked")
            # Others' sockets are not disturbed.
            await admin_socket.send(type="ping")
            assert await admin_socket.until("pong") == {"type": "pong"}
