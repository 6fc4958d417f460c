"""One browser's ``/ws`` socket: authenticate, read the client's frames and answer them
(subscribe, unsubscribe, renew, ping), refuse what it may not do.

Its subscriptions are ``subscription.py``; what it sends, and when a slow reader is let go,
``connection.py`` and ``backpressure.py``; its expiry and heartbeats, the registry's sweep.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from pulse_runtime.access_tokens import AccessClaims
from pulse_runtime.logging import get_logger

from pulse_gateway.identity.keyring import KeyRing, Unauthenticated
from pulse_gateway.settings import WebSocketSettings

from .authentication import authenticate
from .backpressure import gap_frame
from .channels import ChannelRefused, authorize, parse_channel
from .class_access import ClassOwners, check_class_access
from .connection import FrameCounts, LiveConnection
from .fanout import ChannelHub
from .frames import (
    CLOSE_BAD_FRAMES,
    CLOSE_FLOOD,
    Auth,
    Error,
    FrameCodec,
    Ping,
    Pong,
    Ready,
    Subscribe,
    Unsubscribe,
    Unsubscribed,
)
from .replay import StreamReader, TooMuchToReplay
from .subscription import ChannelSubscription, check_limits
from .token_bucket import TokenBucket

log = get_logger(__name__)


class SocketClient(LiveConnection):
    __slots__ = (
        "_class_owners", "_errors", "_keyring", "_requests", "_subscriptions", "hub", "last_heard",
        "last_ping", "reader",
    )  # fmt: skip

    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        *,
        hub: ChannelHub,
        reader: StreamReader,
        keyring: KeyRing,
        class_owners: ClassOwners,
        frames: FrameCodec,
        settings: WebSocketSettings,
        msgpack: bool,
        counts: FrameCounts,
    ) -> None:
        super().__init__(
            socket,
            frames=frames,
            settings=settings,
            msgpack=msgpack,
            counts=counts,
            outbox_frames=settings.outbox_frames,
            gap=self._gap,
        )
        self.last_heard = time.monotonic()
        self.last_ping = time.monotonic()
        self.hub = hub
        self.reader = reader
        self._keyring = keyring
        self._class_owners = class_owners
        self._subscriptions: dict[str, ChannelSubscription] = {}
        self._requests = TokenBucket(settings.subscribe_rate, settings.subscribe_burst)
        self._errors = TokenBucket(settings.subscribe_rate, settings.subscribe_burst)

    async def run(self) -> None:
        """Authenticate, then serve until the client leaves or must be closed."""
        self.claims = await self._authenticate()
        if self.claims is None:
            return
        self.send(
            Ready(
                user=self.claims.email,
                role=self.claims.role,
                heartbeat_s=self.settings.heartbeat_s,
                expires_at=datetime.fromtimestamp(self.claims.exp, UTC),
            )
        )
        try:
            await self._read()
        finally:
            await self._stop_writing()
            for name in list(self._subscriptions):
                await self._leave(name)

    async def _authenticate(self) -> AccessClaims | None:
        async def first_frame_token() -> str:
            raw = await self._receive()
            if raw is None:
                raise WebSocketDisconnect(detail="left before authenticating")
            frame = self.frames.decode(raw)
            if not isinstance(frame, Auth):
                raise msgspec.ValidationError("the first frame must be auth")
            return frame.token

        return await authenticate(self.socket, self._keyring, first_frame_token, self.refused)

    async def _read(self) -> None:
        """Until the client leaves, or the close the gateway sent is complete."""
        with contextlib.suppress(WebSocketDisconnect):
            while (raw := await self._receive()) is not None:
                self.last_heard = time.monotonic()
                try:
                    frame = self.frames.decode(raw)
                except msgspec.DecodeError as exc:
                    self._refuse("bad_frame", f"unreadable frame: {exc}")
                    continue
                await self._handle(frame)

    async def _handle(self, frame: Any) -> None:
        match frame:
            case Ping():
                self.send(Pong())
            case Pong():
                pass
            case Auth(token=token):
                await self._renew(token)
            case Subscribe() | Unsubscribe() if not self._requests.take():
                self._refuse(
                    "rate_limited", "too many subscribe requests; slow down", frame.channel
                )
            case Subscribe():
                await self._subscribe(frame)
            case Unsubscribe(channel=channel):
                if channel in self._subscriptions:
                    await self._leave(channel)
                    self.send(Unsubscribed(channel=channel))
                else:
                    self._refuse("not_subscribed", f"not subscribed to {channel!r}", channel)

    async def _renew(self, token: str) -> None:
        assert self.claims is not None
        try:
            claims = await self._keyring.verify(token)
        except Unauthenticated as exc:
            self._refuse("invalid_token", f"token not accepted ({exc.code})")
            return
        if claims.sub != self.claims.sub:
            self._refuse("invalid_token", "a socket keeps the user it was opened by")
            return
        self.claims = claims

    def _refuse(self, code: str, message: str, channel: str | None = None) -> None:
        """An error frame; a client that keeps sending bad frames is closed."""
        self.send(Error(code=code, message=message, channel=channel))
        if not self._errors.take():
            if code == "rate_limited":
                self.close(CLOSE_FLOOD, "too many subscribe requests")
            else:
                self.close(CLOSE_BAD_FRAMES, "too many refused frames")

    async def _subscribe(self, request: Subscribe) -> None:
        assert self.claims is not None
        try:
            spec = parse_channel(request.channel, self.claims.sub)
            authorize(spec, self.claims.role)
            check_limits(request, spec, self._subscriptions, self.settings)
            await check_class_access(spec, self.claims, self._class_owners)
        except ChannelRefused as exc:
            self._refuse(exc.code, str(exc), request.channel)
            return
        subscription = ChannelSubscription(self, spec, request.max_rate)
        self._subscriptions[spec.name] = subscription
        await self.hub.join(spec, subscription)
        try:
            await subscription.catch_up(request)
        except TooMuchToReplay as exc:
            await self._leave(spec.name)
            self._refuse(
                "replay_too_large",
                f"{exc.pending} stored messages to read back (limit "
                f"{self.settings.replay_max_messages}); ask REST for history instead",
                spec.name,
            )
        except Exception as exc:
            await self._leave(spec.name)
            log.warning("subscribe failed", channel=spec.name, error=str(exc))
            self._refuse("unavailable", "the stream could not be read; try again", spec.name)

    async def _leave(self, name: str) -> None:
        subscription = self._subscriptions.pop(name, None)
        if subscription is not None:
            await subscription.leave()

    def _gap(self, channel: str, after_seq: int, before_seq: int) -> str | bytes:
        return self.frames.encode(gap_frame(channel, after_seq, before_seq), msgpack=self._msgpack)
