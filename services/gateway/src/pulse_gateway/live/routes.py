"""The live sockets' routes: ``/ws`` (multiplexed) and ``/ws/metrics`` (one metric), both
served by the one :class:`SocketRegistry`."""

from __future__ import annotations

from typing import Any

from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from pulse_runtime.web import ApiError

from pulse_gateway.metrics.parameters import metric_name, series_token

from .channels import parse_channel
from .registry import SocketRegistry

WS_POLICY_VIOLATION = 1008


@websocket("/ws", opt={"access": "account"})
async def live_socket(
    socket: WebSocket[Any, Any, Any], sockets: NamedDependency[SocketRegistry]
) -> None:
    """The multiplexed live socket (docs/websocket.md): authenticate with the first frame
    ``{"type": "auth", "token": "..."}`` (or ``Authorization: Bearer`` on the handshake), then
    subscribe to channels. JSON text frames; binary msgpack with ``pulse.msgpack.v1``. Any
    account may open it; which channels it may watch depends on the role (every role its own
    ``notifications``)."""
    await sockets.serve(socket)


@websocket("/ws/metrics", opt={"access": "user"})
async def live_metrics(
    socket: WebSocket[Any, Any, Any], sockets: NamedDependency[SocketRegistry]
) -> None:
    """Each new point of ``type`` (and ``source``, if given) as a JSON text frame.

    Authentication: ``Authorization: Bearer`` on the handshake (scripts), or a first message
    ``{"type": "auth", "token": "..."}`` (browsers: a URL ends up in logs). A later auth
    message replaces the token; at its expiry, without a fresh one, the socket is closed
    with 4401. It is the ``metric:<type>`` (or ``series:<source>:<type>``) channel of
    ``/ws``, one point per frame; both share the channel's NATS subscription, the registry
    and the slow-consumer policy (4408).
    """
    await socket.accept()
    try:
        metric = metric_name(socket.query_params.get("type"), socket.query_params.get("name"))
        source = socket.query_params.get("source")
        if source is not None:
            series_token("source", source)
    except ApiError as exc:
        await socket.close(code=WS_POLICY_VIOLATION, reason=str(exc)[:120])
        return
    spec = parse_channel(f"series:{source}:{metric}" if source else f"metric:{metric}")
    await sockets.serve_metrics(socket, spec)


ROUTES = [live_socket, live_metrics]
