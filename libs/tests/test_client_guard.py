"""The HTTP server's bounds on slow and greedy clients, on a real uvicorn over 127.0.0.1.

The services' own (gateway, ingest) are tested end to end in tests/e2e/test_slow_clients.py;
here each rule's edges, with short limits and a bare ASGI app.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any, cast

import msgspec
import pytest
from pulse_dev.embedded import free_port
from pulse_runtime.client_guard import OpenConnections, _ResumeAwareFlow
from pulse_runtime.http_server import HttpServer
from pulse_runtime.settings import ClientLimits

LIMITS = ClientLimits(header_timeout_s=1.0, body_timeout_s=1.5, body_min_rate=500)
WITHIN_S = 10.0  # a stall bound only: the cuts are expected after 1 to 2 s


async def echo_length(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the whole body (after ``?wait`` seconds, if asked), answers its length."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["query_string"].startswith(b"wait="):
        await asyncio.sleep(float(scope["query_string"][5:]))
    length = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        length += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = str(length).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def serving(limits: ClientLimits) -> AsyncIterator[int]:
    port = free_port()
    server = HttpServer(echo_length, host="127.0.0.1", port=port, limits=limits)
    assert await server.start()
    try:
        yield port
    finally:
        await server.stop()


@pytest.fixture
async def port() -> AsyncIterator[int]:
    async with serving(LIMITS) as port:
        yield port


async def exchange(port: int, at_once: bytes, then: bytes = b"", every_s: float = 0.1) -> bytes:
    """Send ``at_once``, then ``then`` a byte per ``every_s``; everything the server sent
    until it closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def drip() -> None:
        writer.write(at_once)
        for byte in then:
            await asyncio.sleep(every_s)
            writer.write(bytes([byte]))

    dripping = asyncio.create_task(drip())
    try:
        return await asyncio.wait_for(reader.read(), WITHIN_S)
    finally:
        dripping.cancel()
        writer.close()


async def timed(port: int, at_once: bytes, then: bytes = b"") -> tuple[float, bytes]:
    started = time.monotonic()
    answer = await exchange(port, at_once, then)
    return time.monotonic() - started, answer


async def test_a_head_sent_slowly_gets_408_after_the_header_timeout(port: int) -> None:
    after, answer = await timed(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"a" * 300)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"code": "request_timeout"' in answer
    assert after >= LIMITS.header_timeout_s


async def test_a_connection_that_sends_nothing_is_closed_without_an_answer(port: int) -> None:
    after, answer = await timed(port, b"")
    assert answer == b""  # nothing had begun: a plain close, like an idle keep-alive one
    assert after >= LIMITS.header_timeout_s


async def test_a_body_sent_slowly_gets_408_after_the_body_timeout(port: int) -> None:
    head = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
    after, answer = await timed(port, head, b"a" * 300)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert after >= LIMITS.body_timeout_s


async def test_a_body_at_a_steady_pace_may_take_longer(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 15000\r\n\r\n")
    for _ in range(30):  # 3 s at 5000 bytes/s: twice the body timeout, ten times the rate
        writer.write(b"a" * 500)
        await asyncio.sleep(0.1)
    answer = await asyncio.wait_for(reader.read(100), WITHIN_S)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(b"15000")


async def test_a_body_the_app_is_slow_to_read_is_not_the_clients_fault() -> None:
    # Far more than uvicorn buffers before it stops reading; the app reads it after 3 s, twice
    # the body timeout, and no rate earns the client more time: only the pause does.
    body = b"a" * (1 << 20)
    head = f"POST /?wait=3 HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    async with serving(msgspec.structs.replace(LIMITS, body_min_rate=0)) as port:
        answer = await exchange(port, head.encode() + body)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert f"\r\n\r\n{len(body)}".encode() in answer


async def test_the_body_clock_restarts_when_the_app_reads_again_not_when_it_is_checked() -> None:
    """The app pauses reading for 2.9 s and the rest of the body comes after that: the client
    has its whole body timeout from the moment reading went on. (The clock once restarted
    only at the check before, 1.5 s into the pause, and the next check, 0.1 s after the app
    read again, found the client out of time.)"""
    head = b"POST /?wait=2.9 HTTP/1.1\r\nHost: x\r\nContent-Length: 200100\r\n\r\n"
    limits = msgspec.structs.replace(LIMITS, body_min_rate=0)
    async with serving(limits) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(head + b"a" * 200_000)  # more than uvicorn buffers: it pauses reading
            await asyncio.sleep(2.95)
            for _ in range(10):  # the last 100 bytes over 0.3 s, after the app read again
                writer.write(b"b" * 10)
                await asyncio.sleep(0.03)
            answer = await asyncio.wait_for(reader.read(), WITHIN_S)
        finally:
            writer.close()
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:60]
    assert answer.endswith(b"200100")


async def test_keep_alive_requests_each_get_their_own_head_deadline(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(3):  # 3 times 0.6 s: longer in all than the header timeout, yet fine
            await asyncio.sleep(0.6)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await asyncio.wait_for(reader.readline(), WITHIN_S)).startswith(b"HTTP/1.1 200")
            assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n0"), WITHIN_S)
    finally:
        writer.close()


async def test_a_cap_per_address_admits_again_as_connections_close() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def keep(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(keep, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clients = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    try:
        transports = [writer.transport for _, writer in clients]
        table = OpenConnections(cap=2)
        assert table.admit("10.0.0.1", transports[0])
        assert table.admit("10.0.0.1", transports[1])
        assert not table.admit("10.0.0.1", transports[2])
        assert table.admit("10.0.0.2", transports[2])  # another address has its own count
        table.release("10.0.0.1", transports[0])
        assert table.admit("10.0.0.1", transports[2])
        # a connection that closed without being released (an upgraded WebSocket's) is
        # found closed when the address is at the cap
        transports[1].close()
        assert table.admit("10.0.0.1", transports[0])
        assert OpenConnections(cap=0).admit("10.0.0.1", transports[0])  # 0: no cap
    finally:
        for _, writer in clients:
            writer.close()
        server.close()
        await server.wait_closed()


def test_flow_control_does_not_keep_its_protocol_alive() -> None:
    """An upgraded connection's h11 protocol must die with its last reference, not at the
    next full garbage collection (each one held about 3 KB per WebSocket)."""

    class Protocol:
        resumed = 0

        def reading_resumed(self) -> None:
            self.resumed += 1

    protocol = Protocol()
    flow = _ResumeAwareFlow(cast(Any, None), protocol.reading_resumed)
    flow.read_paused = True
    flow._transport = cast(Any, type("T", (), {"resume_reading": lambda self: None})())
    flow.resume_reading()
    assert protocol.resumed == 1  # it still tells the protocol while the protocol lives
    alive = weakref.ref(protocol)
    collecting = gc.isenabled()
    gc.disable()
    try:
        del protocol
        assert alive() is None
        flow.read_paused = True
        flow.resume_reading()  # after the protocol is gone: nothing to tell, no error
    finally:
        if collecting:
            gc.enable()
