"""Every open live socket (``/ws`` and ``/ws/metrics``), and the one sweep that keeps every
socket honest.

A single task per gateway, not one per socket, checks every socket once a second for lapsed
tokens (4401), silent clients (4409) and heartbeats due: with ten thousand sockets that is ten
short loops a second (each over a tenth of them) instead of ten thousand timers.
``/ws/metrics`` sockets have no heartbeat protocol (their clients were never asked to answer
pings): the sweep only checks their tokens, never pings them, and never closes them for
silence.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from litestar import WebSocket
from pulse_runtime.audit import RecordSink
from pulse_runtime.logging import get_logger
from pulse_runtime.tracing import trace_id_of
from pulse_runtime.web import current_traceparent, socket_record

from pulse_gateway.identity.keyring import KeyRing
from pulse_gateway.settings import WebSocketSettings

from .authentication import lapsed
from .channels import ChannelSpec
from .class_access import ClassOwners
from .connection import FrameCounts
from .direct import SharedFrame
from .fanout import ChannelHub
from .frames import (
    CLOSE_HEARTBEAT_MISSED,
    CLOSE_SHUTTING_DOWN,
    CLOSE_UNAUTHENTICATED,
    MSGPACK_SUBPROTOCOL,
    FrameCodec,
    Ping,
)
from .metrics_socket import MetricsSocketClient
from .replay import StreamReader
from .session import SocketClient

log = get_logger(__name__)

_Client = TypeVar("_Client", SocketClient, MetricsSocketClient)

SWEEP_SLICES = 10
"""The sweep visits every socket once a second, a tenth of them every 100 ms."""


class SocketRegistry:
    def __init__(
        self,
        *,
        hub: ChannelHub,
        reader: StreamReader,
        keyring: KeyRing,
        class_owners: ClassOwners,
        frames: FrameCodec,
        settings: WebSocketSettings,
        metrics_outbox_frames: int = 1_000,
        on_close: Callable[[int], object] = lambda _code: None,
        audit: RecordSink | None = None,
    ) -> None:
        self._on_close = on_close
        self._audit = audit
        self._metrics_outbox_frames = metrics_outbox_frames
        self.hub = hub
        self.reader = reader
        self.keyring = keyring
        self.class_owners = class_owners
        self.frames = frames
        self.settings = settings
        self.frames_sent = FrameCounts()
        self._clients: set[SocketClient] = set()
        self._metrics_clients: set[MetricsSocketClient] = set()  # no heartbeat protocol
        self._sweeper: asyncio.Task[None] | None = None
        ping = Ping()
        self._ping = SharedFrame(
            cast(str, frames.encode(ping, msgpack=False)),
            cast(bytes, frames.encode(ping, msgpack=True)),
        )
        self.shutting_down = False

    def __len__(self) -> int:
        return len(self._clients) + len(self._metrics_clients)

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep(), name="websocket sweep")

    async def stop(self) -> None:
        """Close every socket with 1012 so that clients reconnect (to another gateway)."""
        self.shutting_down = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for client in [*self._clients, *self._metrics_clients]:
            client.close(CLOSE_SHUTTING_DOWN, "server shutting down")

    async def serve(self, socket: WebSocket[Any, Any, Any]) -> None:
        """A ``/ws`` socket, from its handshake to its end."""
        offered = socket.scope.get("subprotocols") or []
        msgpack = MSGPACK_SUBPROTOCOL in offered
        await socket.accept(subprotocols=MSGPACK_SUBPROTOCOL if msgpack else None)
        if await self._refused_while_shutting_down(socket):
            return
        client = SocketClient(
            socket,
            hub=self.hub,
            reader=self.reader,
            keyring=self.keyring,
            class_owners=self.class_owners,
            frames=self.frames,
            settings=self.settings,
            msgpack=msgpack,
            counts=self.frames_sent,
        )
        await self._serve(client, self._clients)

    async def serve_metrics(self, socket: WebSocket[Any, Any, Any], spec: ChannelSpec) -> None:
        """A ``/ws/metrics`` socket (accepted already, its query checked) watching ``spec``."""
        if await self._refused_while_shutting_down(socket):
            return
        client = MetricsSocketClient(
            socket,
            spec=spec,
            hub=self.hub,
            keyring=self.keyring,
            frames=self.frames,
            settings=self.settings,
            counts=self.frames_sent,
            outbox_frames=self._metrics_outbox_frames,
        )
        await self._serve(client, self._metrics_clients)

    async def _refused_while_shutting_down(self, socket: WebSocket[Any, Any, Any]) -> bool:
        if self.shutting_down:
            await socket.close(code=CLOSE_SHUTTING_DOWN, reason="server shutting down")
        return self.shutting_down

    async def _serve(self, client: _Client, clients: set[_Client]) -> None:
        clients.add(client)
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        try:
            await client.run()
        finally:
            clients.discard(client)
            if client.close_code is not None:
                self._on_close(client.close_code)
            if self._audit is not None:
                self._record_session(client, started_at, time.perf_counter() - started)

    def _record_session(self, client: _Client, started_at: datetime, duration_s: float) -> None:
        """The socket's access record: one per session, at its close."""
        try:
            self._audit.record(  # type: ignore[union-attr]
                socket_record(
                    client.socket.scope,
                    service="gateway",
                    # The socket's task keeps the trace context of its handshake for its life.
                    trace_id=trace_id_of(current_traceparent.get(None)) or "",
                    started_at=started_at,
                    duration_s=duration_s,
                    user_id=client.claims.sub if client.claims is not None else None,
                    frames_in=client.frames_in,
                    frames_out=client.frames_out,
                    close_code=client.ended_with,
                )
            )
        except Exception:  # the log watches; it never fails a socket
            log.exception("socket access record not made")

    async def _sweep(self) -> None:
        """Every socket once a second, in :data:`SWEEP_SLICES` slices a tenth of a second
        apart: ten thousand sockets connected in one storm are due their heartbeat in the same
        second, and one pass over all of them would hold the event loop (and delay a tick to
        every socket) for as long as it takes to ping them all."""
        while True:
            clients = list(self._clients)
            metrics_clients = list(self._metrics_clients)
            for part in range(SWEEP_SLICES):
                await asyncio.sleep(1.0 / SWEEP_SLICES)
                self._sweep_slice(clients[part::SWEEP_SLICES], metrics_clients[part::SWEEP_SLICES])

    def _sweep_slice(
        self, clients: list[SocketClient], metrics_clients: list[MetricsSocketClient]
    ) -> None:
        heartbeat = self.settings.heartbeat_s
        now = time.monotonic()
        wall = time.time()
        for client in clients:
            claims = client.claims
            if claims is None or client.close_code is not None:
                continue
            if reason := lapsed(claims, self.keyring, wall):
                client.close(CLOSE_UNAUTHENTICATED, reason)
            elif now - client.last_heard > 2 * heartbeat:
                client.close(CLOSE_HEARTBEAT_MISSED, "no frame from the client in time")
            elif now - client.last_ping >= heartbeat:
                client.last_ping = now
                client.send_shared(self._ping)
        for metrics_client in metrics_clients:
            claims = metrics_client.claims
            if claims is None or metrics_client.close_code is not None:
                continue
            if reason := lapsed(claims, self.keyring, wall):
                metrics_client.close(CLOSE_UNAUTHENTICATED, reason)
