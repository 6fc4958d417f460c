"""Steady producer traffic through the cluster, and what became of it.

Points go over NATS (request/reply on ``ingest.metrics``: either ingest answers, they share a
queue group) and over HTTP to each ingest; notebook events over NATS. A request counts as
acknowledged only when ingest answered that it accepted it, which it does once JetStream has
stored it (R3: on a majority of the nodes). Everything acknowledged must then be stored once;
something not acknowledged may be stored or not (the producer would retry it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import nats
from nats.aio.client import Client
from pulse_contracts import subjects

from tests.support.stack import ADMIN_EMAIL, ADMIN_PASSWORD

from .pulse_cluster import PulseCluster

POINTS_PER_REQUEST = 5
EVENTS_PER_REQUEST = 2
REQUEST_TIMEOUT_S = 3.0
Point = tuple[str, datetime]


async def connect(servers: list[str]) -> Client:
    """A producer's connection to every node: on a lost node it moves to another."""
    return await nats.connect(
        servers=servers,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.2,
        ping_interval=2,
        max_outstanding_pings=2,
        connect_timeout=2,
    )


async def admin_token(cluster: PulseCluster, gateway: str = "gateway-app-a") -> str:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            cluster[gateway].url("/api/v1/auth/login"),
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def metrics_key(cluster: PulseCluster) -> str:
    """A producer API key (``ingest:metrics``) made through the admin API."""
    token = await admin_token(cluster)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            cluster["gateway-app-a"].url("/api/v1/admin/api-keys"),
            headers={"Authorization": f"Bearer {token}"},
            json={"name": "cluster producer", "scopes": ["ingest:metrics"]},
        )
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    return secret


@dataclass
class Channel:
    """One producer's requests: how many were sent, and what the acknowledged ones carried."""

    sent: int = 0
    acknowledged: int = 0
    failed: int = 0
    items: set[Any] = field(default_factory=set)


class Traffic:
    """Points of metric ``name`` and events of class ``class_id`` until :meth:`stop`."""

    def __init__(
        self,
        cluster: PulseCluster,
        nc: Client,
        api_key: str,
        *,
        name: str,
        class_id: str,
        pause_s: float = 0.05,
    ) -> None:
        self.cluster = cluster
        self.nc = nc
        self.api_key = api_key
        self.name = name
        self.class_id = class_id
        self.pause_s = pause_s
        self.base = datetime.now(UTC).replace(microsecond=0)
        self.channels: dict[str, Channel] = {}
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        ingests = [label for label in self.cluster.services if label.startswith("ingest-")]
        producers = [self._nats_points("nats-1"), self._nats_points("nats-2"), self._events()]
        producers += [self._http_points(label) for label in ingests]
        self._tasks = [asyncio.create_task(producer) for producer in producers]

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.gather(*self._tasks)

    def acknowledged_points(self) -> set[Point]:
        return {p for key, c in self.channels.items() if key != "events" for p in c.items}

    def acknowledged_events(self) -> set[str]:
        return set(self.channels["events"].items)

    def _points(self, source: str, index: int) -> list[dict[str, Any]]:
        first = index * POINTS_PER_REQUEST
        return [
            {
                "time": (self.base + timedelta(milliseconds=first + k)).isoformat(),
                "source": source,
                "name": self.name,
                "value": float(first + k),
            }
            for k in range(POINTS_PER_REQUEST)
        ]

    @staticmethod
    def _keys(points: list[dict[str, Any]]) -> set[Point]:
        return {(p["source"], datetime.fromisoformat(p["time"])) for p in points}

    async def _nats_points(self, source: str) -> None:
        channel = self.channels.setdefault(source, Channel())
        index = 0
        while not self._stopping.is_set():
            points = self._points(source, index)
            index += 1
            channel.sent += 1
            try:
                reply = await self.nc.request(
                    subjects.INGEST_METRICS, json.dumps(points).encode(), timeout=REQUEST_TIMEOUT_S
                )
                accepted = json.loads(reply.data).get("accepted") == len(points)
            except Exception:  # a timeout, no responders, a reconnect: not acknowledged
                accepted = False
            if accepted:
                channel.acknowledged += 1
                channel.items |= self._keys(points)
            else:
                channel.failed += 1
            await asyncio.sleep(self.pause_s)

    async def _http_points(self, ingest: str) -> None:
        source = f"http-{ingest.removeprefix('ingest-')}"
        channel = self.channels.setdefault(source, Channel())
        url = self.cluster[ingest].url("/api/v1/metrics")
        headers = {"Authorization": f"Bearer {self.api_key}"}
        index = 0
        async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S + 2) as client:
            while not self._stopping.is_set():
                points = self._points(source, index)
                index += 1
                channel.sent += 1
                try:
                    response = await client.post(url, json=points, headers=headers)
                    accepted = response.status_code == 202
                except httpx.HTTPError:
                    accepted = False
                if accepted:
                    channel.acknowledged += 1
                    channel.items |= self._keys(points)
                else:
                    channel.failed += 1
                await asyncio.sleep(self.pause_s)

    async def _events(self) -> None:
        channel = self.channels.setdefault("events", Channel())
        index = 0
        while not self._stopping.is_set():
            events = [
                self._event(index * EVENTS_PER_REQUEST + k) for k in range(EVENTS_PER_REQUEST)
            ]
            index += 1
            channel.sent += 1
            try:
                reply = await self.nc.request(
                    subjects.INGEST_EVENTS, json.dumps(events).encode(), timeout=REQUEST_TIMEOUT_S
                )
                accepted = json.loads(reply.data).get("accepted") == len(events)
            except Exception:
                accepted = False
            if accepted:
                channel.acknowledged += 1
                channel.items |= {event["eventId"] for event in events}
            else:
                channel.failed += 1
            await asyncio.sleep(self.pause_s * 2)

    def _event(self, number: int) -> dict[str, Any]:
        return {
            "eventId": str(uuid.uuid4()),
            "eventType": "cell_executed",
            "eventTime": (self.base + timedelta(milliseconds=number)).isoformat(),
            "userId": f"student{number % 7}",
            "classId": self.class_id,
            "notebookPath": "cluster/failover.ipynb",
            "cellId": f"cell-{number % 11}",
            "cellIndex": number % 11,
            "cellType": "code",
            "executionCount": 1,
            "executionDurationMs": 1.0,
        }

    async def stored(self) -> tuple[list[Point], list[str]]:
        """Every stored point of this traffic's metric and every stored event of its class
        (duplicates included: they are what :func:`outcome` counts)."""
        conn = await asyncpg.connect(self.cluster.database_url)
        try:
            points = await conn.fetch(
                "SELECT s.source, m.time FROM metrics m JOIN series s ON s.id = m.series_id"
                " WHERE s.name = $1",
                self.name,
            )
            events = await conn.fetch(
                "SELECT event_id::text FROM class_events WHERE class_id = $1", self.class_id
            )
        finally:
            await conn.close()
        return [(row[0], row[1]) for row in points], [row[0] for row in events]

    async def settle(self, within_s: float = 90.0) -> dict[str, Any]:
        """Wait until everything acknowledged is stored (or ``within_s`` passed); the counts."""
        wanted_points, wanted_events = self.acknowledged_points(), self.acknowledged_events()
        deadline = asyncio.get_running_loop().time() + within_s
        while True:
            points, events = await self.stored()
            done = wanted_points <= set(points) and wanted_events <= set(events)
            if done or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.5)
        return self.outcome(points, events)

    def outcome(self, points: list[Point], events: list[str]) -> dict[str, Any]:
        acked_points, acked_events = self.acknowledged_points(), self.acknowledged_events()
        point_requests = [c for key, c in self.channels.items() if key != "events"]
        return {
            "points": {
                "sent": sum(c.sent for c in point_requests) * POINTS_PER_REQUEST,
                "acknowledged": len(acked_points),
                "stored": len(points),
                "acknowledged_missing": len(acked_points - set(points)),
                "stored_unacknowledged": len(set(points) - acked_points),
                "duplicates": len(points) - len(set(points)),
            },
            "events": {
                "sent": self.channels["events"].sent * EVENTS_PER_REQUEST,
                "acknowledged": len(acked_events),
                "stored": len(events),
                "acknowledged_missing": len(acked_events - set(events)),
                "stored_unacknowledged": len(set(events) - acked_events),
                "duplicates": len(events) - len(set(events)),
            },
            "requests": {
                key: {"sent": c.sent, "acknowledged": c.acknowledged, "failed": c.failed}
                for key, c in self.channels.items()
            },
        }


def assert_exactly_once(counts: dict[str, Any]) -> None:
    """Everything acknowledged stored, nothing stored twice, and traffic on every channel."""
    for kind in ("points", "events"):
        assert counts[kind]["acknowledged"] > 0, counts
        assert counts[kind]["acknowledged_missing"] == 0, counts
        assert counts[kind]["duplicates"] == 0, counts
    for key, requests in counts["requests"].items():
        assert requests["acknowledged"] > 0, (key, counts)


@contextlib.asynccontextmanager
async def producing(cluster: PulseCluster, *, name: str, class_id: str) -> Any:
    """Traffic running for the body of the ``async with``; its connection closed after."""
    nc = await connect(cluster.nats.servers if cluster.nats else [])
    traffic = Traffic(cluster, nc, await metrics_key(cluster), name=name, class_id=class_id)
    traffic.start()
    try:
        yield traffic
    finally:
        await traffic.stop()
        await nc.drain()
