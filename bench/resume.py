"""Reconnect storm: K WebSocket clients drop at once and all come back with ``resume_from``.

Real processes: nats-server, PostgreSQL (auth's accounts), auth, ingest (it applies the
stream's republishing) and one gateway. A publisher puts one point a second into METRICS; load
clients, in processes of their own, subscribe to ``metric:bench_resume`` and keep the sequence
of every frame. Once all are in, every client closes its socket at the same moment, stays away
for ``--down`` seconds (the publisher goes on), then all reconnect at the same moment and
subscribe with ``resume_from`` set to the last sequence they had.

Reported: seconds from the reconnect until every client is subscribed again, has every frame
it missed, and receives live frames (a frame published after the storm began); frames missed
and duplicated over both connections (must be 0 and 0); the gateway's CPU during the storm; and
what the storm cost JetStream: every JetStream API request seen on ``$JS.API.>`` (by kind),
consumers created and the most alive at once (from the server's consumer advisories).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats
import psutil
from nats.aio.msg import Msg
from pulse_contracts import Codec, SeriesBatch, subjects, to_epoch_us

from bench.load_clients import WebSocketClient
from bench.report import percentile, table, write
from bench.servers import bench_database
from tests.support.stack import PulseStack

CHANNEL = "metric:bench_resume"
LOAD_PROCESSES = 2
STORM_TIMEOUT_S = 180.0


# -- load clients (in their own processes) ----------------------------------------------------


class _Viewer:
    """One dashboard's view of the channel, across its connections: every sequence it got."""

    __slots__ = ("after", "before", "connection", "live_at", "replayed_at", "subscribed_at")

    def __init__(self) -> None:
        self.before: list[int] = []  # sequences on the first connection
        self.after: list[int] = []  # … and on the resumed one
        self.subscribed_at = 0.0
        self.replayed_at = 0.0  # got the last frame published before the storm
        self.live_at = 0.0  # got a frame published after the storm began
        self.connection: _Connection | None = None

    @property
    def last_seq(self) -> int:
        seqs = self.after or self.before
        return seqs[-1] if seqs else 0


class _Storm:
    """What every connection of a load process needs to know about the storm."""

    def __init__(self) -> None:
        self.resumed = False
        self.last_before = 0  # the last sequence published before the reconnect
        self.subscribed = 0
        self.replayed = 0
        self.live = 0
        self.errors: list[str] = []


class _Connection(WebSocketClient):
    """One WebSocket connection of a viewer (bench.load_clients' plain protocol code: a few
    microseconds a frame, so the gateway's figures are the gateway's)."""

    def __init__(
        self, host: str, path: str, token: str, viewer: _Viewer, storm: _Storm, resume_from: int
    ) -> None:
        super().__init__(host, path)
        self._token = token
        self._viewer = viewer
        self._storm = storm
        self._resume_from = resume_from

    def refused(self, head: str) -> None:
        self._storm.errors.append(head)

    def opened(self) -> None:
        self.send({"type": "auth", "token": self._token})
        subscribe: dict[str, Any] = {"type": "subscribe", "channel": CHANNEL}
        if self._storm.resumed:
            subscribe["resume_from"] = self._resume_from
        self.send(subscribe)

    def frame(self, payload: bytes) -> None:
        viewer, storm = self._viewer, self._storm
        if payload.startswith(b'{"type":"data"'):
            at = payload.find(b'"seq":') + 6
            seq = int(payload[at : payload.find(b",", at)])
            if not storm.resumed:
                viewer.before.append(seq)
                return
            viewer.after.append(seq)
            now = time.time()
            if seq >= storm.last_before and not viewer.replayed_at:
                viewer.replayed_at = now
                storm.replayed += 1
            if seq > storm.last_before and not viewer.live_at:
                viewer.live_at = now
                storm.live += 1
        elif payload.startswith(b'{"type":"ping"'):
            self.send({"type": "pong"})
        elif payload.startswith(b'{"type":"subscribed"'):
            viewer.subscribed_at = time.time()
            storm.subscribed += 1
            if storm.resumed and self._resume_from >= storm.last_before:
                viewer.replayed_at = viewer.subscribed_at  # it had missed nothing
                storm.replayed += 1
        elif payload.startswith((b'{"type":"error"', b'{"type":"gap"')):
            storm.errors.append(payload[:120].decode(errors="replace"))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._viewer.connection is self and self._storm.resumed and not self._viewer.live_at:
            self._storm.errors.append(f"connection lost before live: {exc!r}")

    def close(self) -> None:
        if self._transport is not None:
            self._transport.abort()  # as a dropped network would: no close handshake


def _load_process(url: str, token: str, count: int, control: Connection) -> None:
    asyncio.run(_load(url, token, count, control))


async def _connect(url: str, token: str, viewer: _Viewer, storm: _Storm) -> None:
    loop = asyncio.get_running_loop()
    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    resume_from = viewer.last_seq
    try:
        _, connection = await loop.create_connection(
            lambda: _Connection(f"{host}:{port}", target.path, token, viewer, storm, resume_from),
            host,
            port,
        )
    except OSError as exc:
        storm.errors.append(repr(exc))
        return
    viewer.connection = connection


async def _load(url: str, token: str, count: int, control: Connection) -> None:
    """Driven by the parent over ``control``: connect, drop, reconnect, report."""
    storm = _Storm()
    viewers = [_Viewer() for _ in range(count)]
    for viewer in viewers:
        await _connect(url, token, viewer, storm)
        await asyncio.sleep(0.001)  # the first connections ramp gently: not the storm yet
    deadline = time.monotonic() + 300
    while storm.subscribed < count and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    control.send(("ready", storm.subscribed, storm.errors[:5]))
    command = await asyncio.to_thread(control.recv)
    assert command[0] == "drop"
    for viewer in viewers:
        assert viewer.connection is not None
        viewer.connection.close()
    control.send(("dropped",))
    command = await asyncio.to_thread(control.recv)
    assert command[0] == "reconnect"
    storm.last_before = command[1]
    storm.resumed = True
    storm.subscribed = 0
    started = time.time()
    await asyncio.gather(*(_connect(url, token, viewer, storm) for viewer in viewers))
    while not control.poll():
        control.send(("progress", storm.subscribed, storm.replayed, storm.live))
        await asyncio.sleep(0.5)
    command = control.recv()
    assert command[0] == "finish"
    published: list[int] = command[1]
    missed = duplicated = 0
    for viewer in viewers:
        seqs = viewer.before + viewer.after
        duplicated += len(seqs) - len(set(seqs))
        if seqs:
            wanted = [seq for seq in published if seqs[0] <= seq <= max(seqs)]
            missed += len(set(wanted) - set(seqs))
    for viewer in viewers:
        if viewer.connection is not None:
            viewer.connection.close()
    control.send(
        (
            "result",
            {
                "started": started,
                "subscribed_at": [v.subscribed_at for v in viewers],
                "replayed_at": [v.replayed_at for v in viewers],
                "live_at": [v.live_at for v in viewers],
                "frames_before": sum(len(v.before) for v in viewers),
                "frames_after": sum(len(v.after) for v in viewers),
                "missed": missed,
                "duplicated": duplicated,
                "errors": storm.errors[:5],
                "error_count": len(storm.errors),
            },
        )
    )


# -- the parent: publisher, storm control, JetStream observer ---------------------------------


class _JetStreamWatch:
    """Every JetStream API request (a core subscription on ``$JS.API.>`` sees each one) and
    every consumer created and removed (the server's advisories)."""

    def __init__(self) -> None:
        self.counting = False
        self.requests: Counter[str] = Counter()
        self.created = 0
        self.alive = 0
        self.peak_alive = 0

    async def start(self, nc: Any) -> None:
        async def request(msg: Msg) -> None:
            if self.counting:
                # $JS.API.STREAM.INFO.<stream>, $JS.API.CONSUMER.CREATE.<stream>.<name> …
                self.requests[".".join(msg.subject.split(".")[2:4])] += 1

        async def created(msg: Msg) -> None:
            self.alive += 1
            if self.counting:
                self.created += 1
                self.peak_alive = max(self.peak_alive, self.alive)

        async def removed(msg: Msg) -> None:
            self.alive = max(0, self.alive - 1)

        await nc.subscribe("$JS.API.>", cb=request)
        await nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.CREATED.>", cb=created)
        await nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.DELETED.>", cb=removed)


async def _publish_every_second(js: Any, published: list[int], stop: asyncio.Event) -> None:
    codec = Codec()
    sent = 0
    while not stop.is_set():
        batch = SeriesBatch(
            source="bench",
            name="bench_resume",
            times_us=[to_epoch_us(datetime.now(UTC))],
            values=[float(sent)],
        )
        ack = await js.publish(subjects.metrics_subject("bench", "bench_resume"), codec.pack(batch))
        published.append(ack.seq)
        sent += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


def _gateway_counters(stack: PulseStack) -> dict[str, float]:
    """The gateway's ``pulse_gateway_ws_resume*`` and ``…replay*`` series (those it has)."""
    port = stack["gateway"].env["PULSE_GATEWAY_METRICS_PORT"]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            lines = response.read().decode().splitlines()
    except OSError:
        return {}
    found = {}
    for line in lines:
        if line.startswith(("pulse_gateway_ws_resume", "pulse_gateway_replay")):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


async def _receive(control: Connection, within_s: float) -> Any:
    if await asyncio.to_thread(control.poll, within_s):
        return control.recv()
    raise TimeoutError("a load process did not answer")


async def _storm(
    stack: PulseStack, clients: int, down_s: float, token: str
) -> dict[str, Any]:  # fmt: skip
    url = stack["gateway"].url("/ws").replace("http://", "ws://")
    context = multiprocessing.get_context("spawn")
    loads: list[tuple[Any, Connection]] = []
    per = [
        clients // LOAD_PROCESSES + (i < clients % LOAD_PROCESSES) for i in range(LOAD_PROCESSES)
    ]
    for count in per:
        ours, theirs = context.Pipe()
        process = context.Process(target=_load_process, args=(url, token, count, theirs))
        process.start()
        loads.append((process, ours))
    nc = await nats.connect(stack.nats_url)
    js = nc.jetstream()
    watch = _JetStreamWatch()
    await watch.start(nc)
    published: list[int] = []
    stop = asyncio.Event()
    publishing = asyncio.create_task(_publish_every_second(js, published, stop))
    gateway = psutil.Process(stack["gateway"].process.pid)  # type: ignore[union-attr]
    try:
        print(f"  connecting {clients:,} clients…", flush=True)
        subscribed = 0
        for _, control in loads:
            _, count, errors = await _receive(control, 400)
            subscribed += count
            if errors:
                print(f"  errors: {errors}", flush=True)
        print(f"  {subscribed:,} / {clients:,} subscribed; listening 5 s", flush=True)
        await asyncio.sleep(5)
        for _, control in loads:
            control.send(("drop",))
        for _, control in loads:
            await _receive(control, 60)
        print(f"  all dropped at once; away for {down_s:g} s", flush=True)
        await asyncio.sleep(down_s)
        counters_before = _gateway_counters(stack)
        api_before = (await js.account_info()).api.total
        last_before = published[-1]
        gateway.cpu_percent(None)
        watch.counting = True
        began = time.monotonic()
        for _, control in loads:
            control.send(("reconnect", last_before))
        print(f"  all reconnect at once with resume_from (last published seq {last_before})")
        progress = [(0, 0, 0)] * len(loads)
        while time.monotonic() - began < STORM_TIMEOUT_S:
            for index, (_, control) in enumerate(loads):
                while control.poll():
                    progress[index] = control.recv()[1:]
            done = [sum(column) for column in zip(*progress, strict=True)]
            print(
                f"  {time.monotonic() - began:6.1f} s: {done[0]:>7,} subscribed"
                f"  {done[1]:>7,} replayed  {done[2]:>7,} live / {clients:,}",
                flush=True,
            )
            if done[2] >= clients:
                break
            await asyncio.sleep(1)
        storm_s = time.monotonic() - began
        cpu = gateway.cpu_percent(None)
        await asyncio.sleep(3)  # let the last frames land before counting them
        watch.counting = False
        api_after = (await js.account_info()).api.total
        counters_after = _gateway_counters(stack)
        stop.set()
        await publishing
        results = []
        for _, control in loads:
            control.send(("finish", published))
        for _, control in loads:
            message = await _receive(control, 120)
            while message[0] == "progress":
                message = await _receive(control, 120)
            results.append(message[1])
    finally:
        stop.set()
        for process, _ in loads:
            process.join(10)
            if process.is_alive():
                process.kill()
        await nc.drain()
    started = min(result["started"] for result in results)
    return _summary(
        results,
        started=started,
        clients=clients,
        storm_s=storm_s,
        cpu=cpu,
        watch=watch,
        api_delta=api_after - api_before - 1,  # the account info asked after the storm
        counters={
            name: counters_after[name] - counters_before.get(name, 0.0) for name in counters_after
        },
    )


def _summary(
    results: list[dict[str, Any]], *, started: float, clients: int, storm_s: float, cpu: float,
    watch: _JetStreamWatch, api_delta: int, counters: dict[str, float],
) -> dict[str, Any]:  # fmt: skip
    def seconds(key: str) -> dict[str, Any]:
        times = [t - started for result in results for t in result[key] if t]
        return {
            "clients": len(times),
            "p50_s": round(percentile(times, 0.5), 3) if times else None,
            "p99_s": round(percentile(times, 0.99), 3) if times else None,
            "all_s": round(max(times), 3) if len(times) == clients else None,
        }

    return {
        "subscribed": seconds("subscribed_at"),
        "replayed": seconds("replayed_at"),
        "live": seconds("live_at"),
        "storm_observed_s": round(storm_s, 1),
        "frames_missed": sum(result["missed"] for result in results),
        "frames_duplicated": sum(result["duplicated"] for result in results),
        "frames_before": sum(result["frames_before"] for result in results),
        "frames_after": sum(result["frames_after"] for result in results),
        "gateway_cpu_percent": round(cpu, 1),
        "jetstream_api_requests": sum(watch.requests.values()),
        "jetstream_api_requests_by_kind": dict(watch.requests.most_common()),
        "jetstream_api_total_delta": api_delta,
        "consumers_created": watch.created,
        "consumers_alive_peak": watch.peak_alive,
        "gateway_counters": counters,
        "errors": [error for result in results for error in result["errors"]][:5],
        "error_count": sum(result["error_count"] for result in results),
    }


async def run_resume(*, clients: int, down_s: float, kept_frames: int | None = None) -> int:
    print(f"reconnect-storm benchmark: {clients:,} clients, away {down_s:g} s, then all resume")
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    database_url, postgres = await bench_database(work)
    # Every load client connects from 127.0.0.1: no cap per address (as behind a proxy).
    env = {"PULSE_LOG_LEVEL": "warning", "PULSE_GATEWAY_MAX_CONNECTIONS_PER_CLIENT": "0"}
    if kept_frames is not None:  # 0: every resume reads the stream (clients away too long)
        env["PULSE_WS_RESUME_FRAMES"] = str(kept_frames)
    stack = PulseStack(work / "stack", database_url, env)
    try:
        stack.start(["auth", "ingest", "gateway"])
        token = await stack.token()
        storm = await _storm(stack, clients, down_s, token)
    finally:
        stack.stop()
        if postgres is not None:
            postgres.stop()
    settings = {"clients": clients, "down_s": down_s, "kept_frames": kept_frames}
    path = write("resume", {**settings, **storm})

    def row(key: str) -> str:
        part = storm[key]
        return f"all {part['all_s']} s  p50 {part['p50_s']} s  p99 {part['p99_s']} s"

    table(
        [
            ("subscribed again", row("subscribed")),
            ("missed frames replayed", row("replayed")),
            ("receiving live frames", row("live")),
            ("missed / duplicated", f"{storm['frames_missed']} / {storm['frames_duplicated']}"),
            ("gateway CPU", f"{storm['gateway_cpu_percent']}%"),
            (
                "JetStream API requests",
                f"{storm['jetstream_api_requests']:,} {storm['jetstream_api_requests_by_kind']}",
            ),
            (
                "consumers",
                f"{storm['consumers_created']:,} created, at most "
                f"{storm['consumers_alive_peak']:,} at once",
            ),
            ("gateway counters", str(storm["gateway_counters"])),
            ("errors", f"{storm['error_count']} {storm['errors']}"),
            ("results", str(path)),
        ]
    )
    ok = storm["frames_missed"] == 0 and storm["frames_duplicated"] == 0
    return 0 if ok and storm["live"]["all_s"] is not None else 1
