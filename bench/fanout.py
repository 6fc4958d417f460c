"""Live fan-out: K WebSocket clients watching one channel at 1 Hz, against a bare server.

Real processes: nats-server, PostgreSQL (auth's accounts), auth, ingest (it applies the
stream's republishing) and a **new** gateway for every run. A publisher puts one point a second
into METRICS with its publish time as the point's time and its tick number as the value; load
clients, in processes of their own (``bench.load_clients``), subscribe to ``metric:bench_fan``
and file every frame's publish-to-receipt latency under its tick.

Both servers get the same schedule once every client is in: tick 0 (the first tick after the
connection storm, reported on its own), ``WARMUP_TICKS`` ticks not counted, then a window of
``--ticks`` ticks (60 by default: a p99 over 600,000 frames, not the slowest single tick). The
floor is a bare ``websockets`` server sending the same frames with ``websockets.broadcast``.

While the clients connect, a thread asks the gateway's ``/healthz``, ``/readyz`` and
``/metrics`` four times a second and keeps the slowest answer of each.

Scenarios ``--stalled`` (one more client subscribes and never reads) and ``--two-gateways``
(clients split over two processes) run as extra rounds on the same stack.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import nats
import psutil
import websockets
from pulse_contracts import Codec, SeriesBatch, subjects, to_epoch_us
from pulse_dev.embedded import free_port

from bench.load_clients import CHANNEL, LoadClients
from bench.report import percentile, table, write
from bench.servers import bench_database
from tests.support.stack import PulseStack

WARMUP_TICKS = 3
TICK_S = 1.0
GRACE_S = 3.0  # after the last tick, for its frames to arrive
STORM_PROBE_EVERY_S = 0.25


# -- targets (issue 12; also what `make bench-check` enforces) -------------------------------


def p99_ratio_target(clients: int) -> float:
    return 1.0 if clients >= 1_000 else 1.25


FIRST_TICK_RATIO_TARGET = 2.0
RSS_PER_CONNECTION_TARGET_KB = 20.0
STORM_ANSWER_TARGET_MS = 1_000.0


def verdicts(run: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """Each target of a run: (what, met, the figures)."""
    gw, bare, clients = run["gateway"], run["bare"], run["clients"]
    checks = []
    delivered = gw["frames_received"] == gw["frames_expected"]
    checks.append(
        ("every frame delivered", delivered, f"{gw['frames_received']:,}/{gw['frames_expected']:,}")
    )
    target = p99_ratio_target(clients)
    ratio = run["p99_ratio"]
    checks.append((f"window p99 <= {target:g} x bare", ratio <= target, f"{ratio:.2f}"))
    first = run["first_tick_ratio"]
    checks.append(
        (
            f"first tick <= {FIRST_TICK_RATIO_TARGET:g} x bare tick",
            first <= FIRST_TICK_RATIO_TARGET,
            f"{first:.2f} ({gw['first_tick']['max_ms']} ms vs {bare['window']['spread_ms']} ms)",
        )
    )
    storm = gw["storm"]
    slowest = max(storm["healthz_max_ms"], storm["metrics_max_ms"])
    checks.append(
        (
            f"healthz and metrics within {STORM_ANSWER_TARGET_MS:g} ms in the storm",
            slowest <= STORM_ANSWER_TARGET_MS,
            f"slowest {slowest:.0f} ms",
        )
    )
    if clients >= 1_000:  # per-connection memory of a few sockets is noise
        kb = gw["rss_per_connection_kb"]
        checks.append(
            (f"<= {RSS_PER_CONNECTION_TARGET_KB:g} KB per connection",
             kb <= RSS_PER_CONNECTION_TARGET_KB, f"{kb} KB (bare {bare['rss_per_connection_kb']})")
        )  # fmt: skip
    return checks


# -- what a round measured -------------------------------------------------------------------


def _ticks_summary(ticks: dict[int, list[float]], wanted: range, clients: int) -> dict[str, Any]:
    latencies = [latency for tick in wanted for latency in ticks.get(tick, [])]
    spreads = [max(ticks[tick]) for tick in wanted if ticks.get(tick)]  # last client of a tick
    ms = 1000
    return {
        "ticks": len(wanted),
        "frames": len(latencies),
        "frames_expected": clients * len(wanted),
        "p50_ms": round(percentile(latencies, 0.50) * ms, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * ms, 1) if latencies else None,
        "max_ms": round(max(latencies) * ms, 1) if latencies else None,
        # a tick's spread: until its last client had it; the median over the window's ticks
        "spread_ms": round(statistics.median(spreads) * ms, 1) if spreads else None,
        "spreads_ms": [round(spread * ms) for spread in spreads],
    }


def _round_summary(
    ticks: dict[int, list[float]], errors: list[str], clients: int, window: int
) -> dict[str, Any]:
    measured = range(1 + WARMUP_TICKS, 1 + WARMUP_TICKS + window)
    total = 1 + WARMUP_TICKS + window
    return {
        "clients": clients,
        "frames_received": sum(len(ticks.get(tick, [])) for tick in range(total)),
        "frames_expected": clients * total,
        "first_tick": _ticks_summary(ticks, range(1), clients),
        "window": _ticks_summary(ticks, measured, clients),
        "errors": errors,
    }


async def _wait_until_in(load: LoadClients, label: str) -> None:
    deadline = time.monotonic() + 300
    last = -1
    while load.in_count < load.count and time.monotonic() < deadline:
        if load.in_count != last:
            last = load.in_count
            print(f"  {label}: {last:>7,} / {load.count:,} in", flush=True)
        await asyncio.sleep(0.5)
    print(f"  {label}: {load.in_count:>7,} / {load.count:,} in", flush=True)


async def _ticks(total: int, send: Callable[[int], Any]) -> None:
    """``total`` ticks a second apart, from now."""
    started = time.monotonic()
    for tick in range(total):
        await asyncio.sleep(max(0.0, started + tick * TICK_S - time.monotonic()))
        await send(tick)


# -- the gateway -----------------------------------------------------------------------------


class _StormProbe:
    """Asks the management endpoints, from a thread of its own, until stopped."""

    def __init__(self, port: str) -> None:
        self._port = port
        self._stop = threading.Event()
        self.slowest: dict[str, float] = {"healthz": 0.0, "readyz": 0.0, "metrics": 0.0}
        self.asked = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _StormProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(STORM_PROBE_EVERY_S):
            for path in self.slowest:
                started = time.perf_counter()
                try:
                    url = f"http://127.0.0.1:{self._port}/{path}"
                    with urllib.request.urlopen(url, timeout=5) as response:
                        response.read()
                    took = time.perf_counter() - started
                except OSError:
                    took = 5.0 if path != "readyz" else time.perf_counter() - started  # 503 ok
                self.slowest[path] = max(self.slowest[path], took)
                self.asked += 1

    def summary(self) -> dict[str, Any]:
        return {f"{path}_max_ms": round(s * 1000, 1) for path, s in self.slowest.items()} | {
            "requests": self.asked
        }


async def _gateway_round(
    stack: PulseStack, clients: int, window: int, token: str, label: str,
    gateways: tuple[str, ...] = ("gateway",), baseline: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """Clients split evenly across ``gateways``; RSS and CPU are their sums."""
    settle = time.monotonic() + 120  # clients of an earlier round may still be leaving
    while sum(max(0, _subscriptions(stack, g)) for g in gateways) > baseline:
        if time.monotonic() > settle:
            break
        await asyncio.sleep(1)
    processes = [psutil.Process(stack[g].process.pid) for g in gateways]  # type: ignore[union-attr]
    idle_rss = sum(p.memory_info().rss for p in processes)
    loads = []
    for index, name in enumerate(gateways):
        share = clients // len(gateways) + (index < clients % len(gateways))
        loads.append(LoadClients(stack[name].url("/ws").replace("http://", "ws://"), token, share))
    print(f"  {label}: connecting {clients:,} clients…", flush=True)
    nc = await nats.connect(stack.nats_url)
    js = nc.jetstream()
    codec = Codec()

    async def publish(tick: int) -> None:
        batch = SeriesBatch(
            source="bench", name="bench_fan",
            times_us=[to_epoch_us(datetime.now(UTC))], values=[float(tick)],
        )  # fmt: skip
        await js.publish(subjects.metrics_subject("bench", "bench_fan"), codec.pack(batch))

    with _StormProbe(stack[gateways[0]].env["PULSE_GATEWAY_METRICS_PORT"]) as probe:
        for load in loads:
            load.start()
        for load in loads:
            await _wait_until_in(load, label)
    rss_connected = sum(p.memory_info().rss for p in processes)
    for process in processes:
        process.cpu_percent(None)
    total = 1 + WARMUP_TICKS + window
    await _ticks(total, publish)
    cpu = sum(process.cpu_percent(None) for process in processes)
    await asyncio.sleep(GRACE_S)
    ticks: dict[int, list[float]] = {}
    errors: list[str] = []
    for load in loads:
        part, part_errors = await asyncio.to_thread(load.finish)
        for tick, latencies in part.items():
            ticks.setdefault(tick, []).extend(latencies)
        errors += part_errors
    await nc.drain()
    summary = _round_summary(ticks, errors, clients, window)
    summary["storm"] = probe.summary()
    summary["gateways"] = len(gateways)
    summary["rss_per_connection_kb"] = round((rss_connected - idle_rss) / clients / 1024, 1)
    summary["rss_mb"] = round(rss_connected / 2**20, 1)
    summary["cpu_percent"] = round(cpu, 1)
    return summary


def _subscriptions(stack: PulseStack, gateway: str = "gateway") -> int:
    """A gateway's count of channel subscriptions; -1 while it does not answer."""
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


async def _with_stalled(stack: PulseStack, clients: int, window: int, token: str) -> dict[str, Any]:
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
        return await _gateway_round(
            stack, clients, window, token, "with a stalled client", baseline=1
        )


# -- the bare server -------------------------------------------------------------------------


async def _bare(clients: int, window: int) -> dict[str, Any]:
    connections: set[Any] = set()

    async def handler(ws: Any) -> None:
        connections.add(ws)
        try:
            await ws.wait_closed()
        finally:
            connections.discard(ws)

    port = free_port()
    encode = msgspec.json.encode
    me = psutil.Process()
    async with websockets.serve(handler, "127.0.0.1", port, ping_interval=None, backlog=4096):
        idle_rss = me.memory_info().rss
        load = LoadClients(f"ws://127.0.0.1:{port}/", None, clients)
        load.start()
        print(f"  bare: connecting {clients:,} clients…", flush=True)
        await _wait_until_in(load, "bare")
        rss_connected = me.memory_info().rss

        async def broadcast(tick: int) -> None:
            frame = encode(
                {
                    "type": "data", "channel": CHANNEL, "seq": tick, "source": "bench",
                    "name": "bench_fan",
                    "points": [{"time": datetime.now(UTC), "value": float(tick)}],
                }
            ).decode()  # fmt: skip
            websockets.broadcast(connections, frame)

        await _ticks(1 + WARMUP_TICKS + window, broadcast)
        await asyncio.sleep(GRACE_S)
        ticks, errors = await asyncio.to_thread(load.finish)
    summary = _round_summary(ticks, errors, clients, window)
    summary["rss_per_connection_kb"] = round((rss_connected - idle_rss) / clients / 1024, 1)
    return summary


# -- a run -----------------------------------------------------------------------------------


async def fanout_run(
    *, clients: int, window: int, stalled: bool = False, two_gateways: bool = False
) -> dict[str, Any]:
    """One run: a new stack and gateway, then the bare server; same-run ratios."""
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    database_url, postgres = await bench_database(work)
    # Every load client connects from 127.0.0.1: no cap per address (as behind a proxy).
    env = {"PULSE_LOG_LEVEL": "warning", "PULSE_GATEWAY_MAX_CONNECTIONS_PER_CLIENT": "0"}
    env |= json.loads(os.environ.get("PULSE_BENCH_EXTRA_ENV", "{}"))  # noqa: TID251
    stack = PulseStack(work / "stack", database_url, env)
    run: dict[str, Any] = {"clients": clients, "window_ticks": window, "warmup_ticks": WARMUP_TICKS}
    try:
        stack.start(["auth", "ingest", "gateway"])
        token = await stack.token()
        run["gateway"] = await _gateway_round(stack, clients, window, token, "gateway")
        if stalled:
            run["with_stalled_client"] = await _with_stalled(stack, clients, window, token)
        if two_gateways:
            first = stack["gateway"]
            stack.start(["gateway"])  # a second gateway process, ports of its own
            stack.services["gateway2"], stack.services["gateway"] = stack["gateway"], first
            run["two_gateways"] = await _gateway_round(
                stack, clients, window, token, "two gateways", ("gateway", "gateway2")
            )
    finally:
        stack.stop()
        if postgres is not None:
            postgres.stop()
    run["bare"] = await _bare(clients, window)
    gw, bare = run["gateway"], run["bare"]
    run["p99_ratio"] = round(gw["window"]["p99_ms"] / bare["window"]["p99_ms"], 2)
    run["first_tick_ratio"] = round(gw["first_tick"]["max_ms"] / bare["window"]["spread_ms"], 2)
    run["targets"] = [
        {"target": what, "met": met, "figures": figures} for what, met, figures in verdicts(run)
    ]
    return run


async def run_fanout(
    *, clients: int, ticks: int, runs: int, stalled: bool, two_gateways: bool
) -> int:
    print(
        f"fan-out benchmark: {clients:,} clients at 1 Hz; {runs} run(s) of tick 0,"
        f" {WARMUP_TICKS} warm-up ticks and a {ticks}-tick window, each on a new gateway"
    )
    results: dict[str, Any] = {"clients": clients, "window_ticks": ticks, "runs": []}
    for number in range(1, runs + 1):
        print(f"run {number} of {runs}", flush=True)
        results["runs"].append(
            await fanout_run(
                clients=clients, window=ticks, stalled=stalled, two_gateways=two_gateways
            )
        )
    path = write("fanout", results)
    rows: list[tuple[str, str]] = []
    for number, run in enumerate(results["runs"], 1):
        rows += _run_rows(number, run)
    rows.append(("results", str(path)))
    table(rows)
    met = all(target["met"] for run in results["runs"] for target in run["targets"])
    print("  every target met" if met else "  some targets missed (see above)")
    return 0


def _run_rows(number: int, run: dict[str, Any]) -> list[tuple[str, str]]:
    gw, bare = run["gateway"], run["bare"]
    rows = [
        (f"run {number}: gateway", _round_row(gw) + f"  {gw['rss_per_connection_kb']} KB/conn"
         f"  CPU {gw['cpu_percent']}%"),
        (f"run {number}: bare", _round_row(bare) + f"  {bare['rss_per_connection_kb']} KB/conn"),
        (f"run {number}: storm", "slowest answer: " + ", ".join(
            f"{key.removesuffix('_max_ms')} {value:.0f} ms"
            for key, value in gw["storm"].items() if key.endswith("_max_ms"))),
    ]  # fmt: skip
    for key, label in (("with_stalled_client", "stalled"), ("two_gateways", "two gateways")):
        if key in run:
            rows.append((f"run {number}: {label}", _round_row(run[key])))
    for target in run["targets"]:
        mark = "met " if target["met"] else "MISSED"
        rows.append((f"run {number}: {mark}", f"{target['target']}: {target['figures']}"))
    return rows


def _round_row(summary: dict[str, Any]) -> str:
    window, first = summary["window"], summary["first_tick"]
    return (
        f"{summary['frames_received']:,}/{summary['frames_expected']:,} frames"
        f"  window p50 {window['p50_ms']} p99 {window['p99_ms']} ms"
        f" (tick {window['spread_ms']} ms)  first tick {first['max_ms']} ms"
    )
