"""The live sockets' routes: ``/ws`` (multiplexed) and ``/ws/metrics`` (one metric)."""

from __future__ import annotations

from typing import Any

from litestar import WebSocket, websocket
from litestar.di import NamedDependency

from .metrics_socket import live_metrics
from .registry import SocketRegistry


@websocket("/ws", opt={"access": "user"})
async def live_socket(
    socket: WebSocket[Any, Any, Any], sockets: NamedDependency[SocketRegistry]
) -> None:
    """The multiplexed live socket (docs/websocket.md): authenticate with the first frame
    ``{"type": "auth", "token": "..."}`` (or ``Authorization: Bearer`` on the handshake), then
    subscribe to channels. JSON text frames; binary msgpack with ``pulse.msgpack.v1``."""
    await sockets.serve(socket)


ROUTES = [live_socket, live_metrics]
