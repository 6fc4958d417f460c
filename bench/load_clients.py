"""WebSocket load clients for the fan-out benchmarks, in processes of their own.

Each client is plain asyncio protocol code: no task, no queue, no JSON decoding per frame, so
that the load side costs a few microseconds a frame and the servers' figures are the servers'
(a full client library costs ten times more). Every data frame carries its tick number as the
point's value and its send time as the point's time; a client files the frame's
publish-to-receipt latency under its tick, so a run can report the first tick after a
connection storm apart from the steady window that follows.

The load processes count connected clients in shared memory: the harness reads progress and
"everyone is in" from there, not from the server it measures (which may be too busy to say).
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

CHANNEL = "metric:bench_fan"
LOAD_PROCESSES = 2
_SPAWN = multiprocessing.get_context("spawn")


class _Tally:
    def __init__(self, connected: Any) -> None:
        self.connected = connected  # a shared multiprocessing.Value
        self.ticks: dict[int, list[float]] = {}
        self.errors: list[str] = []

    def count_in(self) -> None:
        with self.connected.get_lock():
            self.connected.value += 1


class WebSocketClient(asyncio.Protocol):
    """A WebSocket client as plain asyncio protocol code: the handshake, unmasking-free frame
    parsing (servers do not mask) and masked text frames out. Subclasses say what an open
    socket, a refused handshake and each frame's payload mean to them."""

    def __init__(self, host: str, path: str) -> None:
        self._host = host
        self._path = path
        self._buffer = bytearray()
        self._upgraded = False
        self._transport: asyncio.Transport | None = None

    def opened(self) -> None:
        """The handshake succeeded."""

    def refused(self, head: str) -> None:
        """The server answered the handshake with something other than 101."""

    def frame(self, payload: bytes) -> None:
        """One whole frame's payload."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self._path} HTTP/1.1\r\nHost: {self._host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self._upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self.refused(bytes(buffer[:60]).decode(errors="replace"))
                return
            del buffer[: end + 4]
            self._upgraded = True
            self.opened()
        while len(buffer) >= 2:
            size = buffer[1] & 0x7F
            offset = 2
            if size == 126:
                size, offset = int.from_bytes(buffer[2:4]), 4
            elif size == 127:
                size, offset = int.from_bytes(buffer[2:10]), 10
            if len(buffer) < offset + size:
                return
            payload = bytes(buffer[offset : offset + size])
            del buffer[: offset + size]
            self.frame(payload)

    def send(self, frame: dict[str, Any]) -> None:
        data = json.dumps(frame).encode()
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))
        size = len(data)
        header = (
            bytes([0x81, 0x80 | size]) if size < 126 else bytes([0x81, 0xFE]) + size.to_bytes(2)
        )
        assert self._transport is not None
        self._transport.write(header + mask + masked)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class _LoadClient(WebSocketClient):
    def __init__(self, host: str, path: str, token: str | None, tally: _Tally) -> None:
        super().__init__(host, path)
        self._token = token
        self._tally = tally

    def refused(self, head: str) -> None:
        self._tally.errors.append(head)

    def opened(self) -> None:
        if self._token is None:
            self._tally.count_in()  # the bare server: connected is in
        else:
            self.send({"type": "auth", "token": self._token})
            self.send({"type": "subscribe", "channel": CHANNEL})

    def frame(self, payload: bytes) -> None:
        tally = self._tally
        if payload.startswith(b'{"type":"data"'):
            received = time.time()
            at = payload.find(b'"time":"') + 8
            sent = datetime.fromisoformat(payload[at : payload.index(b'"', at)].decode())
            at = payload.find(b'"value":') + 8
            tick = int(float(payload[at : payload.index(b"}", at)]))
            tally.ticks.setdefault(tick, []).append(received - sent.timestamp())
        elif payload.startswith(b'{"type":"ping"'):
            self.send({"type": "pong"})
        elif payload.startswith(b'{"type":"subscribed"'):
            tally.count_in()


def _client_process(
    url: str, token: str | None, count: int, connected: Any, stop: Any, out: Connection
) -> None:
    out.send(asyncio.run(_clients(url, token, count, connected, stop)))


async def _clients(
    url: str, token: str | None, count: int, connected: Any, stop: Any
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    tally = _Tally(connected)
    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    clients: list[_LoadClient] = []
    for _ in range(count):
        try:
            _, client = await loop.create_connection(
                lambda: _LoadClient(f"{host}:{port}", target.path or "/", token, tally), host, port
            )
        except OSError as exc:
            tally.errors.append(repr(exc))
            continue
        clients.append(client)
        await asyncio.sleep(0.001)  # a gentle ramp: the accept queue stays short
    while not stop.is_set():  # noqa: ASYNC110 - a cross-process event
        await asyncio.sleep(0.1)
    for client in clients:
        client.close()
    return {"ticks": tally.ticks, "errors": tally.errors[:5]}


@dataclass
class LoadClients:
    """``count`` clients of ``url`` split over the load processes; :meth:`finish` stops them
    and gathers every frame's latency, by tick."""

    url: str
    token: str | None
    count: int
    connected: Any = field(default_factory=lambda: _SPAWN.Value("i", 0))
    _stop: Any = field(default_factory=_SPAWN.Event)
    _workers: list[tuple[Any, Connection]] = field(default_factory=list)

    def start(self) -> None:
        shares = [
            self.count // LOAD_PROCESSES + (i < self.count % LOAD_PROCESSES)
            for i in range(LOAD_PROCESSES)
        ]
        for share in shares:
            if not share:
                continue
            receive, send = _SPAWN.Pipe(duplex=False)
            process = _SPAWN.Process(
                target=_client_process,
                args=(self.url, self.token, share, self.connected, self._stop, send),
            )
            process.start()
            self._workers.append((process, receive))

    @property
    def in_count(self) -> int:
        """Clients connected (bare server) or subscribed (gateway) so far."""
        return int(self.connected.value)

    def finish(self, timeout: float = 120) -> tuple[dict[int, list[float]], list[str]]:
        self._stop.set()
        ticks: dict[int, list[float]] = {}
        errors: list[str] = []
        for process, receive in self._workers:
            if receive.poll(timeout):
                part = receive.recv()
                for tick, latencies in part["ticks"].items():
                    ticks.setdefault(tick, []).extend(latencies)
                errors += part["errors"]
            process.join(10)
            if process.is_alive():
                process.kill()
        return ticks, errors
