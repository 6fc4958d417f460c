"""Event → instructor's socket: how long a notebook event takes from its store in EVENTS to a
``/ws`` client watching its class (``class:<class_id>``).

Real processes: nats-server, PostgreSQL (auth's accounts), auth, ingest (it creates EVENTS and
its republishing to ``live.events.>``) and one gateway. A publisher stores one event per
message in EVENTS, as ingest does for a producer's request, at ``--rate`` events a second per
class (a class of 50 students running a cell every 10 s is 5/s), each event carrying its
publish time in its metadata. Load clients (plain protocol code, in a process of their own)
subscribe and file each event's publish-to-receipt latency.

Two shapes: ``one-class`` (``--clients`` sockets watching one class: its instructor's tabs,
a projector, teaching assistants) and ``many-classes`` (as many classes, one socket each, every
class at the same rate). Who owns the classes is answered by the test's class directory
(``rpc.classroom.get``) until persistence's verb is merged: one instructor owns them all, which
costs the gateway the same as many (the owner is checked once per class, then kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import tempfile
import time
import uuid
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import nats
import psutil
from nats.aio.client import Client
from pulse_contracts import subjects
from pulse_contracts.classroom import ClassEvents, NotebookEvent

from bench.load_clients import WebSocketClient
from bench.report import summary_ms, table, write
from bench.servers import bench_database
from tests.support.classes import ClassDirectory, create_user
from tests.support.stack import PulseStack

TARGET_P99_MS = 50.0
WARMUP_S = 2.0
_SPAWN = multiprocessing.get_context("spawn")


class _Watcher(WebSocketClient):
    def __init__(self, host: str, path: str, token: str, channel: str, tally: _Tally) -> None:
        super().__init__(host, path)
        self._token = token
        self._channel = channel
        self._tally = tally

    def refused(self, head: str) -> None:
        self._tally.errors.append(head)

    def opened(self) -> None:
        self.send({"type": "auth", "token": self._token})
        self.send({"type": "subscribe", "channel": self._channel})

    def frame(self, payload: bytes) -> None:
        tally = self._tally
        if payload.startswith(b'{"type":"events"'):
            received = time.time()
            for event in json.loads(payload)["events"]:
                tally.latencies.append(received - event["metadata"]["sent"])
        elif payload.startswith(b'{"type":"ping"'):
            self.send({"type": "pong"})
        elif payload.startswith(b'{"type":"subscribed"'):
            tally.subscribed += 1
        elif payload.startswith((b'{"type":"error"', b'{"type":"gap"')):
            tally.errors.append(payload[:160].decode(errors="replace"))


class _Tally:
    def __init__(self) -> None:
        self.subscribed = 0
        self.latencies: list[float] = []
        self.errors: list[str] = []


def _load_process(url: str, token: str, channels: list[str], control: Connection) -> None:
    asyncio.run(_load(url, token, channels, control))


async def _load(url: str, token: str, channels: list[str], control: Connection) -> None:
    loop = asyncio.get_running_loop()
    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    tally = _Tally()
    watchers = []
    for channel in channels:
        _, watcher = await loop.create_connection(
            lambda channel=channel: _Watcher(  # type: ignore[misc]
                f"{host}:{port}", target.path, token, channel, tally
            ),
            host,
            port,
        )
        watchers.append(watcher)
    deadline = time.monotonic() + 60
    while tally.subscribed < len(channels) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    control.send(("ready", tally.subscribed, tally.errors[:5]))
    await asyncio.to_thread(control.recv)  # "measure": forget the warm-up
    tally.latencies.clear()
    await asyncio.to_thread(control.recv)  # "finish"
    control.send(("done", tally.latencies, tally.errors[:5]))
    for watcher in watchers:
        watcher.close()


def _event(class_id: str, student: int, cell: int) -> NotebookEvent:
    return NotebookEvent(
        event_id=uuid.uuid4(),
        event_type="cell_executed",
        event_time=datetime.now(UTC),
        user_id=f"student-{student}",
        class_id=class_id,
        notebook_path="lesson.ipynb",
        cell_id=f"cell-{cell}",
        cell_index=cell,
        execution_count=cell,
        execution_duration_ms=12.5,
        metadata={"sent": time.time()},
    )


async def _publish(nc: Client, classes: list[str], rate: float, seconds: float) -> int:
    """Each class gets ``rate`` events a second, spread evenly; returns the events sent."""
    js = nc.jetstream()
    interval = 1.0 / (rate * len(classes))
    started = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - started) < seconds:
        class_id = classes[sent % len(classes)]
        event = _event(class_id, sent % 50, sent % 40)
        payload = msgspec.msgpack.encode(ClassEvents(class_id=class_id, events=[event]))
        await js.publish(subjects.events_subject(class_id), payload, stream=subjects.EVENTS_STREAM)
        sent += 1
        ahead = sent * interval - elapsed
        if ahead > 0:
            await asyncio.sleep(ahead)
    return sent


async def _run_shape(
    stack: PulseStack,
    nc: Client,
    token: str,
    shape: str,
    clients: int,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    classes = ["bench-feed"] if shape == "one-class" else [f"bench-{i}" for i in range(clients)]
    channels = [f"class:{classes[i % len(classes)]}" for i in range(clients)]
    parent, child = _SPAWN.Pipe()
    url = stack["gateway"].url("/ws").replace("http://", "ws://")
    process = _SPAWN.Process(target=_load_process, args=(url, token, channels, child))
    process.start()
    try:
        _, subscribed, errors = await asyncio.to_thread(parent.recv)
        assert subscribed == clients, f"{subscribed} of {clients} subscribed: {errors}"
        await _publish(nc, classes, rate, WARMUP_S)
        gateway = psutil.Process(stack["gateway"].process.pid)  # type: ignore[union-attr]
        gateway.cpu_percent()
        parent.send(("measure",))
        await asyncio.sleep(0.2)
        sent = await _publish(nc, classes, rate, seconds)
        cpu = gateway.cpu_percent()
        await asyncio.sleep(1.0)  # the last events arrive
        parent.send(("finish",))
        _, latencies, errors = await asyncio.to_thread(parent.recv)
    finally:
        process.join(30)
        if process.is_alive():
            process.kill()
    expected = sent * (clients // len(classes))
    return {
        "shape": shape,
        "clients": clients,
        "classes": len(classes),
        "rate_per_class": rate,
        "events_sent": sent,
        "events_received": len(latencies),
        "events_expected": expected,
        "gateway_cpu_percent": round(cpu, 1),
        "errors": errors,
        **summary_ms(latencies),
    }


async def run_class_feed(*, clients: int, rate: float, seconds: float, shapes: list[str]) -> int:
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-class-feed-"))
    database, postgres = await bench_database(work)
    stack = PulseStack(work / "stack", database, {"PULSE_LOG_LEVEL": "warning"})
    results: list[dict[str, Any]] = []
    try:
        stack.start(["auth", "ingest", "gateway"])
        nc = await nats.connect(stack.nats_url)
        directory = await ClassDirectory(nc).start()
        owner_id, token = await create_user(stack, "instructor@pulse.bench", "instructor")
        directory.add("bench-feed", owner_id)
        for i in range(clients):
            directory.add(f"bench-{i}", owner_id)
        for shape in shapes:
            print(f"class-feed {shape}: {clients} sockets, {rate:g} events/s per class", flush=True)
            results.append(await _run_shape(stack, nc, token, shape, clients, rate, seconds))
        with contextlib.suppress(Exception):
            await nc.drain()
    finally:
        stack.stop()
        if postgres is not None:
            postgres.stop()
    for result in results:
        result["target_p99_ms"] = TARGET_P99_MS
        result["meets_target"] = result["p99_ms"] <= TARGET_P99_MS
    path = write("class-feed", {"seconds": seconds, "runs": results})
    for r in results:
        table(
            [
                ("shape", f"{r['shape']}: {r['clients']} sockets on {r['classes']} class(es)"),
                ("events", f"{r['rate_per_class'] * r['classes']:g}/s for {seconds:g} s"),
                ("received", f"{r['events_received']} of {r['events_expected']}"),
                ("latency", f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms (target p99 <= 50)"),
                ("gateway CPU", f"{r['gateway_cpu_percent']} %"),
            ]
        )
    print(f"results: {path}")
    failed = [
        r for r in results if not r["meets_target"] or r["events_received"] < r["events_expected"]
    ]
    return 1 if failed else 0
