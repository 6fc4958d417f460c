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

import msgspec
import nats
import psutil
import websockets
from pulse_contracts import Codec, SeriesBatch, subjects, to_epoch_us
from pulse_runtime.embedded import EmbeddedPostgres, free_port

from bench.report import percentile, table, write
from tests.support.stack import PulseStack, create_database

CHANNEL = "metric:bench_fan"
LOAD_PROCESSES = 2


# -- load clients (in their own processes) ----------------------------------------------------


def _client_process(url: str, token: str, count: int, seconds: float, out: Connection) -> None:
    # Listen a little longer than the publisher sends, so the last frame is not cut off.
    out.send(asyncio.run(_clients(url, token, count, seconds + 3)))


async def _clients(url: str, token: str | None, count: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    connected = 0
    frames = 0
    start = asyncio.Event()

    async def one() -> None:
        nonlocal connected, frames
        async with websockets.connect(
            url, max_queue=None, open_timeout=60, ping_interval=None
        ) as ws:
            if token is not None:
                await ws.send(json.dumps({"type": "auth", "token": token}))
                await ws.recv()
                await ws.send(json.dumps({"type": "subscribe", "channel": CHANNEL}))
                await ws.recv()
            connected += 1
            await start.wait()
            deadline = time.time() + seconds
            while (left := deadline - time.time()) > 0:
                try:
                    raw = await asyncio.wait_for(ws.recv(), left)
                except TimeoutError:
                    break
                received = time.time()
                frame = json.loads(raw)
                if frame.get("type") == "ping":
                    await ws.send('{"type":"pong"}')
                    continue
                if frame.get("type") != "data":
                    continue
                frames += 1
                sent = datetime.fromisoformat(frame["points"][0]["time"]).timestamp()
                latencies.append(received - sent)

    tasks = []
    for _ in range(count):
        tasks.append(asyncio.create_task(one()))
        await asyncio.sleep(0.002)  # a gentle ramp: the accept queue stays short
    while connected < count and not any(t.done() for t in tasks):  # noqa: ASYNC110 - two conditions
        await asyncio.sleep(0.1)
    start.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    return {"connected": connected, "frames": frames, "latencies": latencies, "errors": errors[:5]}


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
    stack: PulseStack, clients: int, seconds: float, token: str, label: str
) -> dict[str, Any]:
    gateway = psutil.Process(stack["gateway"].process.pid)  # type: ignore[union-attr]
    idle_rss = gateway.memory_info().rss
    url = stack["gateway"].url("/ws").replace("http://", "ws://")
    already = max(0, _subscriptions(stack))  # a stalled client, in that scenario
    workers = _spawn_clients(url, token, clients, seconds)
    print(f"  {label}: connecting {clients:,} clients…", flush=True)
    nc = await nats.connect(stack.nats_url)
    js = nc.jetstream()
    stop = asyncio.Event()
    # Wait until every client is in (the gateway counts subscriptions), with progress.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        subscribed = _subscriptions(stack)
        print(f"  {label}: {subscribed - already:>7,} / {clients:,} subscribed", flush=True)
        if subscribed >= clients + already:
            break
        await asyncio.sleep(1)
    rss_connected = gateway.memory_info().rss
    gateway.cpu_percent(None)
    publishing = asyncio.create_task(_publish_every_second(js, Codec(), stop))
    await asyncio.sleep(seconds)
    cpu = gateway.cpu_percent(None)
    stop.set()
    sent = await publishing
    result = _collect(workers, timeout=120)
    await nc.drain()
    summary = _summary(result, clients, seconds, expected=sent * clients)
    summary["gateway_rss_per_connection_kb"] = round((rss_connected - idle_rss) / clients / 1024, 1)
    summary["gateway_rss_mb"] = round(rss_connected / 2**20, 1)
    summary["gateway_cpu_percent"] = round(cpu, 1)
    return summary


def _subscriptions(stack: PulseStack) -> int:
    """The gateway's count of channel subscriptions; -1 while it is too busy to answer."""
    port = stack["gateway"].env["PULSE_GATEWAY_METRICS_PORT"]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            lines = response.read().decode().splitlines()
    except OSError:
        return -1
    for line in lines:
        if line.startswith("pulse_gateway_ws_subscriptions "):
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


async def run_fanout(*, clients: int, seconds: float, stalled: bool) -> int:
    print(f"fan-out benchmark: {clients:,} clients at 1 Hz for {seconds:g} s")
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    external = os.environ.get("PULSE_BENCH_DATABASE_URL")  # noqa: TID251
    postgres = None if external else EmbeddedPostgres(work / "postgres")
    if postgres is not None:
        postgres.start()
    database_url = await create_database(external or (postgres.url if postgres else ""))
    stack = PulseStack(work / "stack", database_url, {"PULSE_LOG_LEVEL": "warning"})
    results: dict[str, Any] = {"clients": clients, "seconds": seconds}
    try:
        stack.start(["auth", "ingest", "gateway"])
        token = await stack.token()
        results["gateway"] = await _measure_gateway(stack, clients, seconds, token, "gateway")
        if stalled:
            results["with_stalled_client"] = await _with_stalled(stack, clients, seconds, token)
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
        return await _measure_gateway(stack, clients, seconds, token, "with a stalled client")
