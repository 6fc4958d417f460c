"""Slow and greedy clients are cut off by the gateway and ingest themselves (issue 11, defect
8): request heads and bodies sent a byte at a time, and more connections from one address
than allowed, against real processes over 127.0.0.1, while a normal client is still served."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from typing import Any

import httpx
import pytest
import websockets

from tests.support.stack import PulseStack, create_api_key

pytestmark = pytest.mark.integration

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.5
BODY_MIN_RATE = 500  # bytes per second: a trickle of 10 earns next to no extra time
TRICKLE_INTERVAL_S = 0.1
# Generous: a cut-off is expected within about two seconds; without one the trickle would go
# on for a minute. This only bounds a stall, on a machine that may be busy.
CUT_WITHIN_S = 15.0

SLOW = {
    f"PULSE_{service}_{name}": value
    for service in ("GATEWAY", "INGEST")
    for name, value in (
        ("HEADER_TIMEOUT_S", str(HEADER_TIMEOUT_S)),
        ("BODY_TIMEOUT_S", str(BODY_TIMEOUT_S)),
        ("BODY_MIN_RATE", str(BODY_MIN_RATE)),
        ("MAX_CONNECTIONS_PER_CLIENT", "128"),
    )
}


class Cut:
    """How a trickling connection ended: after how long, and what the server said."""

    def __init__(self, after_s: float, answer: bytes) -> None:
        self.after_s = after_s
        self.answer = answer

    @property
    def status(self) -> int | None:
        first_line = self.answer.split(b"\r\n", 1)[0].split()
        return int(first_line[1]) if len(first_line) > 1 else None


async def trickle(port: int, at_once: bytes, slowly: Iterable[int], host: str = "127.0.0.1") -> Cut:
    """Send ``at_once``, then ``slowly`` a byte per interval, until the server closes the
    connection (or the bytes run out: then it never did, and the test fails)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(host, 0))
    started = time.monotonic()
    answer = bytearray()

    async def read_to_end() -> None:
        try:
            while chunk := await reader.read(4096):
                answer.extend(chunk)
        except ConnectionError:
            pass

    reading = asyncio.create_task(read_to_end())
    try:
        writer.write(at_once)
        for byte in slowly:
            done, _ = await asyncio.wait([reading], timeout=TRICKLE_INTERVAL_S)
            if done:
                break
            writer.write(bytes([byte]))
        await asyncio.wait_for(reading, timeout=1)
    finally:
        reading.cancel()
        writer.close()
    return Cut(time.monotonic() - started, bytes(answer))


def endless(count: int = int(60 / TRICKLE_INTERVAL_S)) -> Iterable[int]:
    """A minute of bytes at the trickle's pace: a header value's, or a JSON string's."""
    return b"a" * count


def slow_head(port: int, path: str) -> Any:
    return trickle(port, f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".encode(), endless())


def slow_body(port: int, path: str, headers: dict[str, str] | None = None) -> Any:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    lines.append("Content-Length: 100000")
    return trickle(port, ("\r\n".join(lines) + "\r\n\r\n").encode() + b'{"email": "', endless())


async def served(url: str, **kwargs: Any) -> int:
    async with httpx.AsyncClient(**kwargs) as client:
        return (await client.get(url)).status_code


@pytest.fixture
def stack(make_stack: Any) -> PulseStack:
    stack: PulseStack = make_stack(**SLOW)
    stack.start(["auth", "gateway", "ingest"])
    return stack


async def test_slow_heads_and_bodies_are_cut_off_while_others_are_served(
    stack: PulseStack,
) -> None:
    """The tester's numbers, on each service at once: 40 bodies and 10 heads sent a byte at a
    time. Each is answered 408 and closed, or closed once answered (a body nobody reads)."""
    _, api_key = await create_api_key(stack, ["ingest:metrics"])
    gateway, ingest = stack["gateway"].port, stack["ingest"].port
    login, metrics = "/api/v1/auth/login", "/api/v1/metrics"
    key = {"Authorization": f"Bearer {api_key}"}
    trickles = {
        "gateway head": [slow_head(gateway, login) for _ in range(10)],
        "gateway body": [slow_body(gateway, login) for _ in range(40)],
        "ingest head": [slow_head(ingest, metrics) for _ in range(10)],
        "ingest body": [slow_body(ingest, metrics, key) for _ in range(35)],
        # refused before its body is read (no key): the rest of it may not trickle on forever
        "ingest unread body": [slow_body(ingest, metrics) for _ in range(5)],
    }
    running = {name: asyncio.gather(*group) for name, group in trickles.items()}
    # Meanwhile, ordinary clients are served.
    await asyncio.sleep(0.5)
    assert await served(stack["gateway"].url("/healthz")) == 200
    assert await served(stack["ingest"].url("/healthz")) == 200
    cuts = {name: await asyncio.wait_for(group, CUT_WITHIN_S) for name, group in running.items()}
    for name, group in cuts.items():
        expected = 401 if name == "ingest unread body" else 408
        assert [cut.status for cut in group] == [expected] * len(group), (name, group[0].answer)
        assert max(cut.after_s for cut in group) < CUT_WITHIN_S, name
    timed_out = json.loads(cuts["gateway body"][0].answer.split(b"\r\n\r\n", 1)[1])
    assert timed_out["code"] == "request_timeout"
    # A body at a decent pace is no slow client, however long it takes in all.
    async with httpx.AsyncClient() as client:

        async def steady() -> Any:
            for _ in range(8):  # 2.4 s in all, longer than BODY_TIMEOUT_S
                yield b" " * 600
                await asyncio.sleep(0.3)
            yield b'{"email": "nobody@pulse.test", "password": "wrong"}'

        answer = await client.post(stack["gateway"].url(login), content=steady())
    assert answer.status_code == 401, answer.text
    # The access log says what the clients got (not the 500 the app answered into the void).
    for name in ("gateway", "ingest"):
        log = stack[name].log_path.read_text()
        assert '"status": 408' in log, name
        assert '"status": 500' not in log, name


async def test_an_upgraded_websocket_is_no_slow_client_but_its_slow_head_is(
    stack: PulseStack,
) -> None:
    url = stack["gateway"].url("/ws").replace("http://", "ws://")
    async with websockets.connect(url) as socket:
        await socket.send(json.dumps({"type": "auth", "token": await stack.token()}))
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "ready"
        await asyncio.sleep(HEADER_TIMEOUT_S + BODY_TIMEOUT_S + 1)  # idle past both timeouts
        await socket.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "pong"
    upgrade = (
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Slow: "
    )
    cut = await trickle(stack["gateway"].port, upgrade.encode(), endless())
    assert cut.status == 408
    assert cut.after_s < CUT_WITHIN_S


async def test_connections_beyond_the_cap_per_address_are_refused(make_stack: Any) -> None:
    cap = 4
    stack: PulseStack = make_stack(
        PULSE_GATEWAY_MAX_CONNECTIONS_PER_CLIENT=str(cap),
        PULSE_INGEST_MAX_CONNECTIONS_PER_CLIENT=str(cap),
        # the held connections send nothing: they must outlast the test
        PULSE_GATEWAY_HEADER_TIMEOUT_S="60",
        PULSE_INGEST_HEADER_TIMEOUT_S="60",
    )
    stack.start(["auth", "gateway", "ingest"])
    for name in ("gateway", "ingest"):
        port = stack[name].port
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(cap)]
        try:
            refused = [
                await asyncio.wait_for(trickle(port, b"GET /healthz HTTP/1.1\r\n", endless()), 10)
                for _ in range(3)
            ]
            assert [cut.status for cut in refused] == [429] * 3, refused[0].answer
            body = json.loads(refused[0].answer.split(b"\r\n\r\n", 1)[1])
            assert body["code"] == "too_many_connections"
            # another address is served meanwhile, and so are the connections held
            transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
            assert await served(stack[name].url("/healthz"), transport=transport) == 200
            reader, writer = held[0]
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
        finally:
            for _, writer in held:
                writer.close()
        # the closed connections' places are free again
        for _ in range(20):
            try:
                if await served(stack[name].url("/healthz")) == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
        else:
            pytest.fail(f"{name} refused connections after the held ones closed")
