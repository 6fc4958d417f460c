"""A persistence process killed: the other takes the durable consumers' work over. A gateway
killed: its WebSocket clients reconnect to the other one and resume with no gap."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from nats.aio.client import Client

from .pulse_cluster import PulseCluster
from .traffic import admin_token, assert_exactly_once, connect, producing

pytestmark = pytest.mark.integration

CLIENTS = 20


async def test_a_persistence_killed_leaves_its_work_to_the_other(
    cluster: PulseCluster, report: Any
) -> None:
    victim = cluster["persistence-app-a"]
    async with producing(cluster, name="persistence_kill", class_id="persistence-kill") as traffic:
        await asyncio.sleep(5)
        victim.kill()
        await asyncio.sleep(2)
        stored_at_kill = len((await traffic.stored())[0])
        await asyncio.sleep(10)
        stored_alone = len((await traffic.stored())[0])
    counts = await traffic.settle()
    cluster.restart("persistence-app-a")
    report(
        {
            "killed": "persistence-app-a",
            **counts,
            "stored_by_the_other_alone": stored_alone - stored_at_kill,
        }
    )
    assert_exactly_once(counts)
    assert stored_alone > stored_at_kill, "nothing was stored while one persistence was down"


class ResumingClient:
    """A /ws client on one series: on a lost socket it connects to the next gateway and
    resumes from the last sequence it got. Keeps every point it received, in order."""

    def __init__(self, urls: list[str], token: str, channel: str) -> None:
        self.urls = urls
        self.token = token
        self.channel = channel
        self.last_seq: int | None = None
        self.values: list[float] = []
        self.seqs: list[int] = []
        self.reconnects = 0
        self.gaps: list[dict[str, Any]] = []
        self.other_frames: list[dict[str, Any]] = []
        self.retried_subscribes = 0

    async def run(self, stopping: asyncio.Event) -> None:
        gateway = 0
        while not stopping.is_set():
            with contextlib.suppress(OSError, websockets.ConnectionClosed, TimeoutError):
                await self._session(self.urls[gateway], stopping)
            if stopping.is_set():
                return
            gateway = (gateway + 1) % len(self.urls)
            self.reconnects += 1
            await asyncio.sleep(0.2)

    async def _session(self, url: str, stopping: asyncio.Event) -> None:
        async with websockets.connect(url, open_timeout=5) as ws:
            await ws.send(json.dumps({"type": "auth", "token": self.token}))
            await ws.send(json.dumps(self._subscribe()))
            while not stopping.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                frame = json.loads(raw)
                if frame["type"] == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif frame["type"] == "gap":
                    self.gaps.append(frame)
                elif frame["type"] == "data":
                    self.seqs.append(frame["seq"])
                    self.last_seq = frame["seq"]
                    self.values.extend(point["value"] for point in frame["points"])
                elif frame["type"] == "error" and frame["code"] == "unavailable":
                    # What the dashboard does too (live/hub.ts): the gateway could not read
                    # the stream just then; ask again.
                    self.retried_subscribes += 1
                    await asyncio.sleep(0.5)
                    await ws.send(json.dumps(self._subscribe()))
                else:
                    self.other_frames.append(frame)

    def _subscribe(self) -> dict[str, Any]:
        subscribe: dict[str, Any] = {"type": "subscribe", "channel": self.channel}
        if self.last_seq is not None:
            subscribe["resume_from"] = self.last_seq
        return subscribe


async def publish_points(
    nc: Client, source: str, name: str, stopping: asyncio.Event
) -> list[float]:
    """One point every 50 ms, value = its index; the values ingest acknowledged."""
    acknowledged: list[float] = []
    index = 0
    while not stopping.is_set():
        value = float(index)
        point = {
            "time": datetime.now(UTC).isoformat(),
            "source": source,
            "name": name,
            "value": value,
        }
        index += 1
        with contextlib.suppress(Exception):
            reply = await nc.request("ingest.metrics", json.dumps(point).encode(), timeout=3)
            if json.loads(reply.data).get("accepted") == 1:
                acknowledged.append(value)
        await asyncio.sleep(0.05)
    return acknowledged


async def test_a_gateway_killed_its_clients_resume_on_the_other_with_no_gap(
    cluster: PulseCluster, report: Any
) -> None:
    assert cluster.nats is not None
    token = await admin_token(cluster)
    urls = [
        cluster[label].url("/ws").replace("http://", "ws://")
        for label in ("gateway-app-a", "gateway-app-b")
    ]
    clients = [ResumingClient(urls, token, "series:failover:gateway_kill") for _ in range(CLIENTS)]
    nc = await connect(cluster.nats.servers)
    listening, producing_ = asyncio.Event(), asyncio.Event()
    sockets = [asyncio.create_task(client.run(listening)) for client in clients]
    try:
        await asyncio.sleep(1)  # every client subscribed before the first point
        publisher = asyncio.create_task(publish_points(nc, "failover", "gateway_kill", producing_))
        await asyncio.sleep(4)
        cluster["gateway-app-a"].kill()
        await asyncio.sleep(6)
        producing_.set()
        acknowledged = await publisher
        await asyncio.sleep(3)  # the last frames on their way
    finally:
        listening.set()
        await asyncio.gather(*sockets)
        await nc.drain()
    cluster.restart("gateway-app-a")
    moved = sum(1 for client in clients if client.reconnects > 0)
    complete = sum(1 for client in clients if client.values == acknowledged)
    report(
        {
            "clients": CLIENTS,
            "reconnected": moved,
            "points_acknowledged": len(acknowledged),
            "clients_with_every_point_once_in_order": complete,
            "gaps": sum(len(client.gaps) for client in clients),
            "subscribes_retried_on_unavailable": sum(c.retried_subscribes for c in clients),
            "duplicates": sum(len(c.values) - len(set(c.values)) for c in clients),
        }
    )
    assert moved == CLIENTS, "every client started on gateway-app-a and had to move"
    for client in clients:
        assert client.gaps == []
        assert client.seqs == sorted(set(client.seqs)), "a frame came twice or out of order"
        assert client.values == acknowledged, (
            f"a point is missing or came twice: {client.reconnects} reconnects, frames"
            f" {client.other_frames}, seqs {client.seqs[-5:]}"
        )
