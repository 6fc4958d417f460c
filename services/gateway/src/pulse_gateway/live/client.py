"""One browser's ``/ws`` socket: authentication, its channel subscriptions, and its outbox.

Subscribing joins the channel's shared live feed first (frames are held back), then reads
what the client asked for from the stream (history, or everything after its last sequence),
sends that, and lets the held frames through from the next sequence on: no gap, no
duplicate, because both sides are the same stream's sequence.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from pulse_contracts import EPOCH
from pulse_runtime.access_tokens import AccessClaims
from pulse_runtime.logging import get_logger

from pulse_gateway.identity.keyring import KeyRing, Unauthenticated
from pulse_gateway.settings import WebSocketSettings

from .authentication import authenticate
from .channels import ChannelRefused, ChannelSpec, authorize, parse_channel
from .direct import DirectWriter, SharedFrame
from .fanout import ChannelHub, Delivery
from .frames import (
    CLOSE_BAD_FRAMES,
    CLOSE_FLOOD,
    CLOSE_SLOW_CONSUMER,
    Auth,
    Bucket,
    Error,
    FrameCodec,
    Gap,
    History,
    HistoryRequest,
    Ping,
    Pong,
    Ready,
    SeriesHistory,
    ServerFrame,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
)
from .outbox import Outbox
from .replay import StreamReader, TooMuchToReplay
from .token_bucket import TokenBucket

log = get_logger(__name__)


class _RateCap:
    """Per series: when the last frame went out, the latest one held back, its timer."""

    __slots__ = ("latest", "sent_at", "timers")

    def __init__(self) -> None:
        self.sent_at: dict[tuple[str, str], float] = {}
        self.latest: dict[tuple[str, str], Delivery] = {}
        self.timers: dict[tuple[str, str], asyncio.TimerHandle] = {}


class ChannelSubscription:
    """A client's subscription to one channel; the hub calls :meth:`deliver` in seq order."""

    __slots__ = ("_cap", "_held", "_live", "client", "last_seq", "max_rate", "spec")

    def __init__(self, client: SocketClient, spec: ChannelSpec, max_rate: float | None) -> None:
        self.client = client
        self.spec = spec
        self.max_rate = max_rate
        self.last_seq = 0
        self._live = False
        self._held: list[Delivery] = []
        self._cap = _RateCap() if max_rate is not None else None

    def deliver(self, delivery: Delivery) -> None:
        if not self._live:
            self._held.append(delivery)
            if len(self._held) > self.client.settings.outbox_frames:
                self.client.slow_consumer()
            return
        if delivery.seq <= self.last_seq:
            return  # already sent from the stream read
        self.last_seq = delivery.seq
        if self.max_rate is None:
            self.client.send_data(delivery)
            return
        self._rate_limited(delivery)

    def go_live(self, after_seq: int) -> None:
        """From now on, frames after ``after_seq`` flow; the held ones first."""
        self.last_seq = max(self.last_seq, after_seq)
        self._live = True
        held, self._held = self._held, []
        for delivery in held:
            self.deliver(delivery)

    def cancel(self) -> None:
        if self._cap is not None:
            for timer in self._cap.timers.values():
                timer.cancel()
            self._cap.timers.clear()

    def _rate_limited(self, delivery: Delivery) -> None:
        assert self.max_rate is not None
        assert self._cap is not None
        cap = self._cap
        interval = 1.0 / self.max_rate
        loop = asyncio.get_running_loop()
        now = loop.time()
        series = delivery.series
        due = cap.sent_at.get(series, -math.inf) + interval
        if now >= due and series not in cap.timers:
            cap.sent_at[series] = now
            self.client.send_data(delivery)
            return
        cap.latest[series] = delivery  # the latest of the interval replaces the earlier
        if series not in cap.timers:
            cap.timers[series] = loop.call_at(due, self._flush, series)

    def _flush(self, series: tuple[str, str]) -> None:
        assert self._cap is not None
        self._cap.timers.pop(series, None)
        delivery = self._cap.latest.pop(series, None)
        if delivery is not None:
            self._cap.sent_at[series] = asyncio.get_running_loop().time()
            self.client.send_data(delivery)


class FrameCounts:
    """Data frames sent by all sockets of a gateway: written directly, or through an outbox."""

    def __init__(self) -> None:
        self.direct = 0
        self.queued = 0


class SocketClient:
    __slots__ = (
        "_closer", "_closing", "_counts", "_direct", "_errors", "_frames", "_hub", "_keyring",
        "_msgpack", "_reader", "_requests", "_subscriptions", "_writer", "_writing", "claims",
        "last_heard", "last_ping", "outbox", "settings", "socket",
    )  # fmt: skip

    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        *,
        hub: ChannelHub,
        reader: StreamReader,
        keyring: KeyRing,
        frames: FrameCodec,
        settings: WebSocketSettings,
        msgpack: bool,
        counts: FrameCounts,
    ) -> None:
        self.socket = socket
        self._counts = counts
        self.settings = settings
        self.claims: AccessClaims | None = None
        self.last_heard = time.monotonic()
        self.last_ping = time.monotonic()
        self._hub = hub
        self._reader = reader
        self._keyring = keyring
        self._frames = frames
        self._msgpack = msgpack
        self._subscriptions: dict[str, ChannelSubscription] = {}
        self._requests = TokenBucket(settings.subscribe_rate, settings.subscribe_burst)
        self._errors = TokenBucket(settings.subscribe_rate, settings.subscribe_burst)
        self._closing: tuple[int, str] | None = None
        self._direct = DirectWriter.for_scope(socket.scope)
        self._writer: asyncio.Task[None] | None = None  # only while the outbox has frames
        self._writing = False
        self._closer: asyncio.Task[None] | None = None
        self.outbox = Outbox(settings.outbox_frames, settings.slow_consumer_grace_s, self._gap)

    # -- what the registry and the subscriptions call ----------------------------------------

    def close(self, code: int, reason: str) -> None:
        """Close the socket with ``code``; the read loop then ends with the disconnect."""
        if self._closing is None:
            self._closing = (code, reason)
            if self._writer is not None:
                self._writer.cancel()
            self._closer = asyncio.get_running_loop().create_task(self._close_socket())

    async def _close_socket(self) -> None:
        """Send the close frame; a client that reads nothing would never let it through (the
        server's send waits for room), so after the close timeout the connection is cut."""
        assert self._closing is not None
        try:
            await asyncio.wait_for(
                self.socket.close(code=self._closing[0], reason=self._closing[1]),
                self.settings.close_timeout_s,
            )
        except TimeoutError:
            if self._direct is not None:
                self._direct.abort()  # the read loop then ends with the disconnect
        except (WebSocketDisconnect, OSError, RuntimeError):
            pass  # already gone: nothing left to close

    def slow_consumer(self) -> None:
        self.close(CLOSE_SLOW_CONSUMER, "slow consumer: frames were not read in time")

    def send(self, frame: ServerFrame) -> None:
        if self._closing is not None:
            return
        self.outbox.control(self._frames.encode(frame, msgpack=self._msgpack))
        self._start_writer()

    def send_shared(self, frame: SharedFrame) -> None:
        """A control frame the same for every socket: written at once when caught up."""
        if self._closing is not None:
            return
        if not self._write_now(frame.wire(msgpack=self._msgpack)):
            self.outbox.control(frame.encoded(msgpack=self._msgpack))
            self._start_writer()

    def _write_now(self, wire: bytes) -> bool:
        """The common case: caught up, so the frame is written at once, with no task switch
        and nothing allocated for this socket; False when it must wait its turn."""
        direct = self._direct
        return (
            direct is not None and not self._writing and not len(self.outbox) and direct.write(wire)
        )

    def send_data(self, delivery: Delivery) -> None:
        if self._closing is not None:
            return
        if self._write_now(delivery.wire(msgpack=self._msgpack)):
            self._counts.direct += 1
            return
        self._counts.queued += 1
        payload = delivery.encoded(msgpack=self._msgpack)
        if not self.outbox.data(delivery.frame.channel, delivery.series, delivery.seq, payload):
            self.slow_consumer()
            return
        self._start_writer()

    def _start_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    # -- the socket's life ---------------------------------------------------------------------

    @property
    def close_code(self) -> int | None:
        """The code the gateway closed this socket with, if it did."""
        return None if self._closing is None else self._closing[0]

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
            if self._writer is not None:
                self._writer.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._writer
            for name in list(self._subscriptions):
                await self._leave(name)

    async def _authenticate(self) -> AccessClaims | None:
        async def first_frame_token() -> str:
            raw = await self._receive()
            if raw is None:
                raise WebSocketDisconnect(detail="left before authenticating")
            frame = self._frames.decode(raw)
            if not isinstance(frame, Auth):
                raise msgspec.ValidationError("the first frame must be auth")
            return frame.token

        return await authenticate(self.socket, self._keyring, first_frame_token)

    async def _receive(self) -> str | bytes | None:
        """The next frame's data; None once the client has gone."""
        event = await self.socket.receive()
        if event["type"] != "websocket.receive":
            return None
        text = event.get("text")
        return text if text is not None else event.get("bytes") or b""

    async def _write(self) -> None:
        """Sends what the outbox holds, then ends (a socket that keeps up needs no task)."""
        try:
            while len(self.outbox):
                self._writing = True
                payload = await self.outbox.next()
                if isinstance(payload, str):
                    await self.socket.send_text(payload)
                else:
                    await self.socket.send_bytes(payload)
        except WebSocketDisconnect:
            pass
        finally:
            self._writing = False
            self._writer = None  # a finished task would stay referenced for the socket's life

    async def _read(self) -> None:
        """Until the client leaves, or the close the gateway sent is complete."""
        with contextlib.suppress(WebSocketDisconnect):
            while (raw := await self._receive()) is not None:
                self.last_heard = time.monotonic()
                try:
                    frame = self._frames.decode(raw)
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

    # -- subscriptions -----------------------------------------------------------------------

    async def _subscribe(self, request: Subscribe) -> None:
        assert self.claims is not None
        try:
            spec = parse_channel(request.channel)
            authorize(spec, self.claims.role)
            self._check_limits(request)
        except ChannelRefused as exc:
            self._refuse(exc.code, str(exc), request.channel)
            return
        subscription = ChannelSubscription(self, spec, request.max_rate)
        self._subscriptions[spec.name] = subscription
        await self._hub.join(spec, subscription)
        try:
            if request.history is not None:
                await self._send_history(subscription, request.history)
            elif request.resume_from is not None:
                await self._resume(subscription, request.resume_from)
            else:
                after = self._hub.last_seq(spec.name)
                self.send(Subscribed(channel=spec.name, seq=after, max_rate=request.max_rate))
                subscription.go_live(after)
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

    def _check_limits(self, request: Subscribe) -> None:
        if request.channel in self._subscriptions:
            raise ChannelRefused("already_subscribed", f"already subscribed to {request.channel!r}")
        if len(self._subscriptions) >= self.settings.max_subscriptions:
            raise ChannelRefused(
                "too_many_subscriptions",
                f"at most {self.settings.max_subscriptions} channels per socket",
            )
        history = request.history
        if history is not None and history.minutes > self.settings.history_max_minutes:
            raise ChannelRefused(
                "history_too_long",
                f"history is limited to {self.settings.history_max_minutes:g} minutes",
            )
        if history is not None and history.max_points > self.settings.history_max_points:
            raise ChannelRefused(
                "history_too_long",
                f"history is limited to {self.settings.history_max_points} points",
            )

    async def _send_history(
        self, subscription: ChannelSubscription, request: HistoryRequest
    ) -> None:
        start = datetime.now(UTC) - timedelta(minutes=request.minutes)
        points: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        last = self._hub.last_seq(subscription.spec.name)
        async for stored in self._reader.read(
            subscription.spec.subject,
            since=start,
            max_messages=self.settings.replay_max_messages,
        ):
            last = max(last, stored.seq)
            points[(stored.batch.source, stored.batch.name)].extend(
                zip(stored.batch.times_us, stored.batch.values, strict=True)
            )
        history = downsample(points, start, request.max_points)
        self.send(
            Subscribed(
                channel=subscription.spec.name,
                seq=last,
                history=history,
                max_rate=subscription.max_rate,
            )
        )
        subscription.go_live(last)

    async def _resume(self, subscription: ChannelSubscription, after: int) -> None:
        name = subscription.spec.name
        recent = self._hub.recent(name, after)
        if recent is not None:
            # The channel delivered everything after ``after`` moments ago and still holds
            # it: no JetStream request at all (docs/adr/0015).
            self.send(Subscribed(channel=name, seq=after, max_rate=subscription.max_rate))
            self._replay(subscription, after, recent)
            return
        bounds = await self._reader.bounds()
        self.send(Subscribed(channel=name, seq=after, max_rate=subscription.max_rate))
        if after + 1 < bounds.first_seq:
            self.send(
                Gap(
                    channel=name,
                    after_seq=after,
                    before_seq=bounds.first_seq,
                    reason="no longer stored in the stream",
                )
            )
            after = bounds.first_seq - 1
        # Older than what the channel holds: one read back into the channel serves every
        # client resuming from about here (a storm of clients away longer than the window).
        recent = await self._hub.backfilled(name, after)
        if recent is not None:
            self._replay(subscription, after, recent)
            return
        last = after
        async for stored in self._reader.read(
            subscription.spec.subject,
            after_seq=after,
            max_messages=self.settings.replay_max_messages,
        ):
            delivery = Delivery(name, stored.seq, stored.batch, self._frames)
            last = stored.seq
            self.send_data(delivery)
        subscription.go_live(last)

    def _replay(
        self, subscription: ChannelSubscription, after: int, recent: list[Delivery]
    ) -> None:
        """Kept deliveries after ``after``, then the ones held since the subscription joined
        its channel (the same stream sequences: no gap, no duplicate)."""
        last = after
        for delivery in recent:
            last = delivery.seq
            self.send_data(delivery)
        subscription.go_live(last)

    async def _leave(self, name: str) -> None:
        subscription = self._subscriptions.pop(name, None)
        if subscription is not None:
            subscription.cancel()
            await self._hub.leave(name, subscription)

    def _gap(self, channel: str, after_seq: int, before_seq: int) -> str | bytes:
        frame = Gap(
            channel=channel,
            after_seq=after_seq,
            before_seq=before_seq,
            reason="slow consumer: only the latest frame of each series was kept",
        )
        return self._frames.encode(frame, msgpack=self._msgpack)


def downsample(
    points: dict[tuple[str, str], list[tuple[int, float]]], start: datetime, max_points: int
) -> History:
    """Raw points when they fit in ``max_points``, else equal buckets (whole seconds, aligned
    to the epoch) small enough that every series together stays within it."""
    total = sum(len(series) for series in points.values())
    window_s = max(1.0, (datetime.now(UTC) - start).total_seconds())
    if total <= max_points:
        width_s = 0
    else:
        per_series = max(1, max_points // max(1, len(points)) - 1)
        width_s = max(1, math.ceil(window_s / per_series))
    series = []
    for (source, name), measured in sorted(points.items()):
        measured.sort()
        if width_s == 0:
            buckets = [Bucket(time=_time(t), min=v, max=v, avg=v, count=1) for t, v in measured]
        else:
            buckets = _buckets(measured, width_s * 1_000_000)
        series.append(SeriesHistory(source=source, name=name, points=buckets))
    return History(start=start, bucket_s=width_s, series=series)


def _buckets(measured: list[tuple[int, float]], width_us: int) -> list[Bucket]:
    grouped: dict[int, list[float]] = defaultdict(list)
    for time_us, value in measured:
        grouped[time_us - time_us % width_us].append(value)
    return [
        Bucket(
            time=_time(bucket),
            min=min(values),
            max=max(values),
            avg=sum(values) / len(values),
            count=len(values),
        )
        for bucket, values in grouped.items()
    ]


def _time(time_us: int) -> datetime:
    return EPOCH + timedelta(microseconds=time_us)
