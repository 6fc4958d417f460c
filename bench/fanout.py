"""Live fan-out: K WebSocket clients watching one channel at 1 Hz, against a bare server.

Real processes: nats-server, PostgreSQL (auth's accounts), auth, ingest (it applies the
stream's republishing) and one gateway. A publisher puts one point a second into METRICS with
its publish time as the point's time; load clients, in processes of their own, subscribe to
``metric:bench_fan`` and record publish-to-receipt latency for every frame. The gateway's RSS
(per connection, after subtracting its idle RSS) and CPU are sampled while the clients listen.

Then the same number of clients connect to a bare ``websockets`` server that sends the same
frame to all of them with ``websockets.broadcast``: the floor this machine allows.

Scenario ``--stalled``: one more client subscribes and never reads; the others' p99 and the
gateway's RSS are reported with and without it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import socket
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import nats
import psutil
import websockets
from pulse_contracts import Codec, SeriesBatch, subjects, to_epoch_us
from pulse_runtime.embedded import free_port

from bench.report import percentile, table, write
from bench.servers import bench_database
from tests.support.stack import PulseStack

CHANNEL = "metric:bench_fan"
LOAD_PROCESSES = 2


# -- load clients (in their own processes) ----------------------------------------------------


def _client_process(url: str, token: str, count: int, seconds: float, out: Connection) -> None:
    # Listen longer than the publisher sends: the other load process may connect later, and
    # the publisher starts only once both are in. Extra listening adds no frames.
    out.send(asyncio.run(_clients(url, token, count, seconds + 15)))


class _LoadClient(asyncio.Protocol):
    """One WebSocket client as plain asyncio protocol code: no task, no queue, no JSON
    decoding per frame, so that the load side costs a few microseconds a frame and the
    servers' figures are the servers' (a full client library costs ten times more)."""

    def __init__(self, host: str, path: str, token: str | None, tally: _Tally) -> None:
        self._host = host
        self._path = path
        self._token = token
        self._tally = tally
        self._buffer = bytearray()
        self._upgraded = False
        self._transport: asyncio.Transport | None = None

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
                self._tally.errors.append(bytes(buffer[:60]).decode(errors="replace"))
                return
            del buffer[: end + 4]
            self._upgraded = True
            if self._token is None:
                self._tally.connected += 1
            else:
                self._send({"type": "auth", "token": self._token})
                self._send({"type": "subscribe", "channel": CHANNEL})
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
            self._frame(payload)

    def _frame(self, payload: bytes) -> None:
        tally = self._tally
        if payload.startswith(b'{"type":"data"'):
            received = time.time()
            at = payload.find(b'"time":"') + 8
            sent = datetime.fromisoformat(payload[at : payload.index(b'"', at)].decode())
            tally.frames += 1
            tally.latencies.append(received - sent.timestamp())
        elif payload.startswith(b'{"type":"ping"'):
            self._send({"type": "pong"})
        elif payload.startswith(b'{"type":"subscribed"'):
            tally.connected += 1

    def _send(self, frame: dict[str, Any]) -> None:
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


class _Tally:
    def __init__(self) -> None:
        self.connected = 0
        self.frames = 0
        self.latencies: list[float] = []
        self.errors: list[str] = []


async def _clients(url: str, token: str | None, count: int, seconds: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    tally = _Tally()
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
    deadline = time.monotonic() + 300
    while tally.connected < len(clients) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    await asyncio.sleep(seconds)  # the publisher starts once everyone is in; count until then
    for client in clients:
        client.close()
    return {
        "connected": tally.connected,
        "frames": tally.frames,
        "latencies": tally.latencies,
        "errors": tally.errors[:5],
    }


def _spawn_clients(url: str, token: str | None, clients: int, seconds: float) -> list[Any]:
    context = multiprocessing.get_context("spawn")
    workers = []
    per = [
        clients // LOAD_PROCESSES + (i < clients % LOAD_PROCESSES) for i in range(LOAD_PROCESSES)
    ]
    for count in per:
        if not count:
            continue
        receive, send = context.Pipe(duplex=False)
        process = context.Process(target=_client_process, args=(url, token, count, seconds, send))
        process.start()
        workers.append((process, receive))
    return workers


def _collect(workers: list[Any], timeout: float) -> dict[str, Any]:
    merged: dict[str, Any] = {"connected": 0, "frames": 0, "latencies": [], "errors": []}
    for process, receive in workers:
        if receive.poll(timeout):
            part = receive.recv()
            merged["connected"] += part["connected"]
            merged["frames"] += part["frames"]
            merged["latencies"] += part["latencies"]
            merged["errors"] += part["errors"]
        process.join(10)
        if process.is_alive():
            process.kill()
    return merged


# -- the publisher ---------------------------------------------------------------------------


async def _publish_every_second(js: Any, codec: Codec, stop: asyncio.Event) -> int:
    sent = 0
    while not stop.is_set():
        now = datetime.now(UTC)
        batch = SeriesBatch(
            source="bench", name="bench_fan", times_us=[to_epoch_us(now)], values=[float(sent)]
        )
        await js.publish(subjects.metrics_subject("bench", "bench_fan"), codec.pack(batch))
        sent += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    return sent


def _summary(result: dict[str, Any], clients: int, seconds: float, expected: int) -> dict[str, Any]:
    latencies = result["latencies"]
    return {
        "clients_connected": result["connected"],
        "frames_received": result["frames"],
        "frames_expected": expected,
        "delivered_per_s": round(result["frames"] / seconds, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2) if latencies else None,
        "errors": result["errors"],
    }


async def _measure_gateway(
    stack: PulseStack, clients: int, seconds: float, token: str, label: str,
    gateways: tuple[str, ...] = ("gateway",), baseline: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """Clients split evenly across ``gateways``; RSS and CPU are their sums."""
    # Clients of an earlier run may still be leaving: start from a settled gateway.
    settle = time.monotonic() + 120
    while sum(max(0, _subscriptions(stack, g)) for g in gateways) > baseline:
        if time.monotonic() > settle:
            break
        await asyncio.sleep(1)
    processes = [psutil.Process(stack[g].process.pid) for g in gateways]  # type: ignore[union-attr]
    idle_rss = sum(p.memory_info().rss for p in processes)
    already = sum(max(0, _subscriptions(stack, g)) for g in gateways)  # e.g. a stalled client
    workers = []
    for index, name in enumerate(gateways):
        share = clients // len(gateways) + (index < clients % len(gateways))
        url = stack[name].url("/ws").replace("http://", "ws://")
        workers += _spawn_clients(url, token, share, seconds)
    print(f"  {label}: connecting {clients:,} clients…", flush=True)
    nc = await nats.connect(stack.nats_url)
    js = nc.jetstream()
    stop = asyncio.Event()
    # Wait until every client is in (the gateways count subscriptions), with progress.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        subscribed = sum(_subscriptions(stack, g) for g in gateways)
        print(f"  {label}: {subscribed - already:>7,} / {clients:,} subscribed", flush=True)
        if subscribed >= clients + already:
            break
        await asyncio.sleep(1)
    rss_connected = sum(p.memory_info().rss for p in processes)
    for process in processes:
        process.cpu_percent(None)
    publishing = asyncio.create_task(_publish_every_second(js, Codec(), stop))
    await asyncio.sleep(seconds)
    cpu = sum(process.cpu_percent(None) for process in processes)
    stop.set()
    sent = await publishing
    result = _collect(workers, timeout=120)
    await nc.drain()
    summary = _summary(result, clients, seconds, expected=sent * clients)
    summary["gateways"] = len(gateways)
    summary["gateway_rss_per_connection_kb"] = round((rss_connected - idle_rss) / clients / 1024, 1)
    summary["gateway_rss_mb"] = round(rss_connected / 2**20, 1)
    summary["gateway_cpu_percent"] = round(cpu, 1)
    return summary


def _subscriptions(stack: PulseStack, gateway: str = "gateway") -> int:
    """A gateway's count of channel subscriptions; -1 while it is too busy to answer."""
    port = stack[gateway].env["PULSE_GATEWAY_METRICS_PORT"]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            lines = response.read().decode().splitlines()
    except OSError:
        return -1
    for line in lines:
        if line.startswith("pulse_gateway_live_clients "):
            return int(float(line.split()[-1]))
    return 0


# -- the bare server -------------------------------------------------------------------------


async def _bare(clients: int, seconds: float) -> dict[str, Any]:
    connections: set[Any] = set()

    async def handler(ws: Any) -> None:
        connections.add(ws)
        try:
            await ws.wait_closed()
        finally:
            connections.discard(ws)

    port = free_port()
    encode = msgspec.json.encode
    async with websockets.serve(handler, "127.0.0.1", port, ping_interval=None, backlog=4096):
        workers = _spawn_clients(f"ws://127.0.0.1:{port}/", None, clients, seconds)
        print(f"  bare: connecting {clients:,} clients…", flush=True)
        while len(connections) < clients:
            await asyncio.sleep(1)
            print(f"  bare: {len(connections):>7,} / {clients:,} connected", flush=True)
        await asyncio.sleep(1)
        sent = 0
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            frame = encode(
                {
                    "type": "data", "channel": CHANNEL, "seq": sent, "source": "bench",
                    "name": "bench_fan",
                    "points": [{"time": datetime.now(UTC), "value": float(sent)}],
                }
            ).decode()  # fmt: skip
            websockets.broadcast(connections, frame)
            sent += 1
            await asyncio.sleep(1.0)
        result = await asyncio.to_thread(_collect, workers, 120)
    return _summary(result, clients, seconds, expected=sent * clients)


async def run_fanout(*, clients: int, seconds: float, stalled: bool, two_gateways: bool) -> int:
    print(f"fan-out benchmark: {clients:,} clients at 1 Hz for {seconds:g} s")
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    database_url, postgres = await bench_database(work)
    # Every load client connects from 127.0.0.1: no cap per address (as behind a proxy).
    env = {"PULSE_LOG_LEVEL": "warning", "PULSE_GATEWAY_MAX_CONNECTIONS_PER_CLIENT": "0"}
    stack = PulseStack(work / "stack", database_url, env)
    results: dict[str, Any] = {"clients": clients, "seconds": seconds}
    try:
        stack.start(["auth", "ingest", "gateway"])
        token = await stack.token()
        results["gateway"] = await _measure_gateway(stack, clients, seconds, token, "gateway")
        if stalled:
            results["with_stalled_client"] = await _with_stalled(stack, clients, seconds, token)
        if two_gateways:
            first = stack["gateway"]
            stack.start(["gateway"])  # a second gateway process, ports of its own
            stack.services["gateway2"], stack.services["gateway"] = stack["gateway"], first
            results["two_gateways"] = await _measure_gateway(
                stack, clients, seconds, token, "two gateways", ("gateway", "gateway2")
            )
    finally:
        stack.stop()
        if postgres is not None:
            postgres.stop()
    results["bare"] = await _bare(clients, seconds)
    gw, bare = results["gateway"], results["bare"]
    if gw["p99_ms"] and bare["p99_ms"]:
        results["p99_ratio_to_bare"] = round(gw["p99_ms"] / bare["p99_ms"], 2)
    path = write("fanout", results)
    rows = [
        ("gateway", _row(gw) + f"  {gw['gateway_rss_per_connection_kb']} KB/conn"
         f"  CPU {gw['gateway_cpu_percent']}%"),
        ("bare websockets", _row(bare)),
        ("p99 ratio", str(results.get("p99_ratio_to_bare"))),
    ]  # fmt: skip
    if stalled:
        st = results["with_stalled_client"]
        rows.append(("with a stalled client", _row(st) + f"  RSS {st['gateway_rss_mb']} MB"))
    if two_gateways:
        two = results["two_gateways"]
        rows.append(("two gateways", _row(two) + f"  CPU {two['gateway_cpu_percent']}%"))
    rows.append(("results", str(path)))
    table(rows)
    return 0


def _row(summary: dict[str, Any]) -> str:
    return (
        f"{summary['frames_received']:,}/{summary['frames_expected']:,} frames"
        f"  {summary['delivered_per_s']:,}/s"
        f"  p50 {summary['p50_ms']} ms  p99 {summary['p99_ms']} ms"
    )


async def _with_stalled(
    stack: PulseStack, clients: int, seconds: float, token: str
) -> dict[str, Any]:
    """One more client subscribes with a tiny receive buffer and never reads again."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    raw.connect(("127.0.0.1", stack["gateway"].port))
    url = stack["gateway"].url("/ws").replace("http://", "ws://")
    async with websockets.connect(url, sock=raw, max_queue=1) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "channel": CHANNEL}))
        await ws.recv()
        ws.transport.pause_reading()
        return await _measure_gateway(
            stack, clients, seconds, token, "with a stalled client", baseline=1
        )
