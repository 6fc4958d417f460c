"""``/ws/metrics``: one metric's points as JSON text frames (the socket the foundation had),
a thin adapter over the ``/ws`` machinery.

A ``/ws/metrics`` socket is one listener of the ``metric:<type>`` (or
``series:<source>:<type>``) channel and lives in the same registry as the ``/ws`` sockets:
the registry's one sweep closes it with 4401 when its token expires or is revoked, it is
closed with 1012 when the gateway shuts down, and its frames take the same write path and
slow-consumer policy (``connection.py``, ``backpressure.py``: conflation, then 4408). Only its
protocol is its own: one JSON text frame per point, no control frames (so no heartbeat: the
sweep neither pings it nor closes it for silence, and no gap frame), and of what the client
sends only ``auth`` messages count, each renewing the token; anything else is ignored. A
client sending more than the ``/ws`` subscribe rate allows (``PULSE_WS_SUBSCRIBE_RATE``
a second after a burst of ``…_SUBSCRIBE_BURST``; a renewal is needed once a token lifetime) is
closed with 4429: each frame may be a token to verify, which costs the gateway a signature
check.
"""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from pulse_contracts import decode_untrusted

from pulse_gateway.identity.keyring import KeyRing, Unauthenticated
from pulse_gateway.settings import WebSocketSettings

from .authentication import authenticate
from .backpressure import no_gap_frame
from .channels import ChannelSpec
from .connection import FrameCounts, LiveConnection
from .fanout import ChannelHub, Delivery
from .frames import CLOSE_FLOOD, CLOSE_FORBIDDEN, Auth, FrameCodec
from .token_bucket import TokenBucket

_decode_auth = msgspec.json.Decoder(Auth)


class MetricsSocketClient(LiveConnection):
    """A ``/ws/metrics`` socket: authenticated, it listens to its one channel."""

    __slots__ = ("_frames_allowed", "_hub", "_keyring", "_spec")

    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        *,
        spec: ChannelSpec,
        hub: ChannelHub,
        keyring: KeyRing,
        frames: FrameCodec,
        settings: WebSocketSettings,
        counts: FrameCounts,
        outbox_frames: int,
    ) -> None:
        super().__init__(
            socket,
            frames=frames,
            settings=settings,
            msgpack=False,
            counts=counts,
            outbox_frames=outbox_frames,
            gap=no_gap_frame,
        )
        self._spec = spec
        self._hub = hub
        self._keyring = keyring
        self._frames_allowed = TokenBucket(settings.subscribe_rate, settings.subscribe_burst)

    async def run(self) -> None:
        """Authenticate, then send the channel's points until the client leaves or is
        closed (by the registry's sweep, the slow-consumer policy, or a shutdown)."""
        self.claims = await authenticate(
            self.socket, self._keyring, self._first_frame_token, self.refused
        )
        if self.claims is None:
            return
        if self.claims.role not in self._spec.roles:  # a student: their classroom data only
            await self.socket.close(
                code=CLOSE_FORBIDDEN, reason=f"the {self.claims.role} role may not watch metrics"
            )
            return
        await self._hub.join(self._spec, self)
        try:
            await self._read()
        finally:
            await self._stop_writing()
            await self._hub.leave(self._spec.shared_as, self)

    def deliver(self, delivery: Delivery) -> None:
        """The channel's next message: one frame per point, framed once for every client."""
        if self._closing is not None:
            return
        if self._write_now(delivery.point_wire()):
            self._counts.direct += 1
            return
        self._queue_data(delivery, delivery.point_frames())

    async def _first_frame_token(self) -> str:
        raw = await self._receive()
        if raw is None:
            raise WebSocketDisconnect(detail="left before authenticating")
        return decode_untrusted(_decode_auth, _text(raw)).token

    async def _read(self) -> None:
        """Renewals arrive here; anything else a client sends is ignored."""
        with contextlib.suppress(WebSocketDisconnect):
            while (raw := await self._receive()) is not None:
                if self._closing is not None:
                    continue  # closing: what still arrives is not read
                if not self._frames_allowed.take():
                    self.close(CLOSE_FLOOD, "too many frames")
                    continue
                try:
                    token = decode_untrusted(_decode_auth, _text(raw)).token
                    claims = await self._keyring.verify(token)
                except (msgspec.DecodeError, Unauthenticated):
                    continue
                if self.claims is not None and claims.sub == self.claims.sub:
                    self.claims = claims


def _text(raw: str | bytes) -> str:
    """The protocol is text: a binary message reads as empty (no auth message)."""
    return raw if isinstance(raw, str) else ""
