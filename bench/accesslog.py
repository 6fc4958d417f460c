"""What the access log costs a request: gateway latency with it on and off, in one run.

Two gateways run side by side on one stack (persistence, auth), the same in all but
``PULSE_ACCESS_LOG``; one client asks each in turn, in blocks of 100 requests whose order
alternates, so that whatever else the machine does falls on both alike, while the work of
storing a block's records (persistence, PostgreSQL, NATS: on the same two cores here) mostly
falls within the block that made them. Three requests of an admin: ``GET
/api/v1/auth/me`` (answered by the gateway alone: the smallest request, where the log weighs
most), ``GET /api/v1/admin/users`` (a list asked of auth) and ``POST /api/v1/admin/api-keys``
(a JSON body in, a secret out: both bodies captured and redacted). Persistence stores the
records meanwhile, as in production. Target (issue 16): at most 5% added at p99.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.report import percentile, summary_ms, table, write
from bench.servers import bench_database
from tests.support.stack import PulseStack, bearer

TARGET_ADDED_P99 = 0.05
BLOCK = 100
WARMUP = 200
REQUESTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "GET /api/v1/auth/me": ("GET", "/api/v1/auth/me", None),
    "GET /api/v1/admin/users": ("GET", "/api/v1/admin/users", None),
    "POST /api/v1/admin/api-keys": (
        "POST",
        "/api/v1/admin/api-keys",
        {"name": "bench producer", "scopes": ["ingest:metrics"]},
    ),
}
MODES = {"on": "gateway", "off": "gateway-off"}


async def _timed(client: httpx.AsyncClient, name: str, count: int) -> list[float]:
    method, path, body = REQUESTS[name]
    durations = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.request(method, path, json=body)
        durations.append(time.perf_counter() - started)
        assert response.status_code < 300, response.text
    return durations


async def run_accesslog(*, requests: int) -> int:
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-accesslog-"))
    database, postgres = await bench_database(work)
    stack = PulseStack(work / "stack", database, {"PULSE_LOG_LEVEL": "warning"})
    samples: dict[str, dict[str, list[float]]] = {name: {"on": [], "off": []} for name in REQUESTS}
    try:
        stack.start(["persistence", "auth", "gateway"])
        stack.start_replica("gateway", "gateway-off", {"PULSE_ACCESS_LOG": "false"})
        headers = bearer(await stack.token())
        clients = {
            mode: httpx.AsyncClient(base_url=stack[label].url(), headers=headers, timeout=30)
            for mode, label in MODES.items()
        }
        print(f"access log: {requests} requests of each kind, on and off", flush=True)
        processes = {
            mode: psutil.Process(stack[label].process.pid)  # type: ignore[union-attr]
            for mode, label in MODES.items()
        }
        try:
            for name in REQUESTS:
                for client in clients.values():
                    await _timed(client, name, WARMUP)
            cpu_before = {mode: _cpu(process) for mode, process in processes.items()}
            blocks = max(1, requests // BLOCK)
            for block in range(blocks):
                order = ("on", "off") if block % 2 == 0 else ("off", "on")
                for name in REQUESTS:
                    for mode in order:
                        samples[name][mode] += await _timed(clients[mode], name, BLOCK)
                if block % 10 == 9:
                    print(f"  {block + 1} of {blocks} blocks", flush=True)
            measured = blocks * BLOCK * len(REQUESTS)
            cpu_us = {
                mode: round((_cpu(process) - cpu_before[mode]) / measured * 1e6, 1)
                for mode, process in processes.items()
            }
        finally:
            for client in clients.values():
                await client.aclose()
    finally:
        stack.stop()
        if postgres is not None:
            postgres.stop()
    results: dict[str, Any] = {}
    rows = []
    worst = 0.0
    for name, by_mode in samples.items():
        on, off = by_mode["on"], by_mode["off"]
        added_p50 = percentile(on, 0.5) / percentile(off, 0.5) - 1
        added_p99 = percentile(on, 0.99) / percentile(off, 0.99) - 1
        worst = max(worst, added_p99)
        results[name] = {
            "on": summary_ms(on),
            "off": summary_ms(off),
            "added_p50": round(added_p50, 4),
            "added_p99": round(added_p99, 4),
        }
        rows.append(
            (
                name,
                f"on p50 {results[name]['on']['p50_ms']} p99 {results[name]['on']['p99_ms']} ms"
                f" | off p50 {results[name]['off']['p50_ms']} p99 {results[name]['off']['p99_ms']}"
                f" ms | added p50 {added_p50:+.1%} p99 {added_p99:+.1%}",
            )
        )
    met = worst <= TARGET_ADDED_P99
    rows.append(
        (
            "gateway CPU per request",
            f"on {cpu_us['on']} µs, off {cpu_us['off']} µs:"
            f" {cpu_us['on'] - cpu_us['off']:+.1f} µs for the access log",
        )
    )
    path = write(
        "accesslog",
        {
            "requests": requests,
            "block": BLOCK,
            "results": results,
            "gateway_cpu_us_per_request": cpu_us,
            "target_added_p99": TARGET_ADDED_P99,
            "met": met,
        },
    )
    rows.append(
        ("target", f"at most {TARGET_ADDED_P99:.0%} added at p99: {'met' if met else 'MISSED'}")
    )
    table(rows)
    print(f"  results: {path}")
    return 0


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)
