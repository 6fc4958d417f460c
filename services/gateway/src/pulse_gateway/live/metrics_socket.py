"""``/ws/metrics``: one metric's points as JSON text frames, the socket the foundation had."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from pulse_runtime.web import ApiError

from pulse_gateway.identity.keyring import KeyRing
from pulse_gateway.metrics.parameters import metric_name, series_token
from pulse_gateway.settings import GatewaySettings

from .authentication import SocketSession
from .channels import parse_channel
from .fanout import ChannelHub, Delivery

WS_POLICY_VIOLATION = 1008


@websocket("/ws/metrics", opt={"access": "user"})
async def live_metrics(
    socket: WebSocket[Any, Any, Any],
    hub: NamedDependency[ChannelHub],
    keyring: NamedDependency[KeyRing],
    settings: NamedDependency[GatewaySettings],
) -> None:
    """Each new point of ``type`` (and ``source``, if given) as a JSON text frame.

    Authentication: ``Authorization: Bearer`` on the handshake (scripts), or a first message
    ``{"type": "auth", "token": "..."}`` (browsers: a URL ends up in logs). A later auth
    message replaces the token; at its expiry, without a fresh one, the socket is closed
    with 4401. It is the ``metric:<type>`` (or ``series:<source>:<type>``) channel of
    ``/ws``, one point per frame; both share the channel's NATS subscription.
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
    session = await SocketSession.open(socket, keyring)
    if session is None:
        return
    spec = parse_channel(f"series:{source}:{metric}" if source else f"metric:{metric}")
    feed = PointFeed(settings.client_queue_size)
    await hub.join(spec, feed)
    tasks = [
        asyncio.create_task(_send_frames(socket, feed)),
        asyncio.create_task(session.read_until_closed()),
        asyncio.create_task(session.expire()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await hub.leave(spec.name, feed)


class PointFeed:
    """A ``/ws/metrics`` client: a bounded queue of point frames; a client that falls behind
    loses its oldest frames and never slows the others."""

    def __init__(self, capacity: int) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=capacity)

    def deliver(self, delivery: Delivery) -> None:
        for frame in delivery.point_frames():
            if self.queue.full():
                self.queue.get_nowait()
            self.queue.put_nowait(frame)


async def _send_frames(socket: WebSocket[Any, Any, Any], feed: PointFeed) -> None:
    while True:
        frame = await feed.queue.get()
        await socket.send_text(frame)
