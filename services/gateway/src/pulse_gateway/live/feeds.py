"""The streams live channels read, and how one stored message becomes the frame its clients get.

A channel is backed by one stream: metric channels by METRICS (a ``SeriesBatch`` per message,
sent as a ``data`` frame), class channels by EVENTS (a ``ClassEvents`` per message, sent as an
``events`` frame), a user's ``notifications`` channel by NOTIFICATIONS (an ``InboxChange`` per
message, sent as a ``notification`` frame), the admins' ``logs`` channel by LOGS (a ``LogBatch``
per message, sent as a ``logs`` frame). Everything else (fan-out, kept frames, resume,
repair, backpressure) is the same for all and never looks inside a message: it deals in
:class:`Delivery` objects.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec
from pulse_contracts import SeriesBatch, from_epoch_us, subjects
from pulse_contracts.audit import LogBatch
from pulse_contracts.audit.subjects import LOGS_STREAM
from pulse_contracts.classroom import ClassEvents
from pulse_contracts.notifications import InboxChange

from .direct import frame_bytes
from .frames import Data, Events, FrameCodec, InboxFrame, LogsFrame, Point

P = TypeVar("P")


class Delivery:
    """One stream message as a channel's listeners get it: the frame is encoded at most once
    per wire format, however many clients it goes to."""

    __slots__ = (
        "_encoded", "_frames", "_point_wire", "_points", "_wire", "frame", "seq", "series",
    )  # fmt: skip

    def __init__(
        self,
        frame: Data | Events | InboxFrame | LogsFrame,
        series: tuple[str, str],
        frames: FrameCodec,
    ) -> None:
        self.seq = frame.seq
        self.series = series
        """What conflation keeps the latest frame of (backpressure.py): a metric's series; a
        class channel's one feed."""
        self.frame = frame
        self._frames = frames
        self._encoded: dict[bool, str | bytes] = {}
        self._wire: dict[bool, bytes] = {}
        self._points: list[str] | None = None
        self._point_wire: bytes | None = None

    def encoded(self, *, msgpack: bool) -> str | bytes:
        """The frame's message, for a send through ASGI."""
        encoded = self._encoded.get(msgpack)
        if encoded is None:
            encoded = self._encoded[msgpack] = self._frames.encode(self.frame, msgpack=msgpack)
        return encoded

    def wire(self, *, msgpack: bool) -> bytes:
        """The whole WebSocket frame, for a direct write (see ``direct.py``)."""
        wire = self._wire.get(msgpack)
        if wire is None:
            payload = self._frames.encode_bytes(self.frame, msgpack=msgpack)
            wire = self._wire[msgpack] = frame_bytes(payload, binary=msgpack)
        return wire

    def point_frames(self) -> list[str]:
        """One JSON frame per point, ``{timestamp, value, type, source}``: the legacy
        ``/ws/metrics`` shape (metric channels only), also encoded once for all its clients."""
        if self._points is None:
            frame = self.frame
            assert isinstance(frame, Data), "/ws/metrics watches metric channels only"
            self._points = [
                self._frames.encode_point(frame.source, frame.name, point) for point in frame.points
            ]
        return self._points

    def point_wire(self) -> bytes:
        """:meth:`point_frames` as whole WebSocket frames one after the other, for a direct
        write of them all at once."""
        if self._point_wire is None:
            self._point_wire = b"".join(
                frame_bytes(text.encode(), binary=False) for text in self.point_frames()
            )
        return self._point_wire


class Feed(Generic[P]):
    """A stream behind live channels: its name, its messages' type, their frames."""

    stream: str
    decoder: msgspec.msgpack.Decoder[P]

    def delivery(self, channel: str, seq: int, message: P, frames: FrameCodec) -> Delivery:
        raise NotImplementedError

    def is_live(self, message: P) -> bool:
        """Whether ``message`` goes to live subscribers (and resumes): everything but history
        stored after the fact (a bulk import's points)."""
        return True


class MetricFeed(Feed[SeriesBatch]):
    """METRICS: one ``data`` frame per series batch."""

    def __init__(self) -> None:
        self.stream = subjects.METRICS_STREAM
        self.decoder = msgspec.msgpack.Decoder(SeriesBatch)

    def delivery(
        self, channel: str, seq: int, message: SeriesBatch, frames: FrameCodec
    ) -> Delivery:
        frame = Data(
            channel=channel,
            seq=seq,
            source=message.source,
            name=message.name,
            unit=message.unit,
            points=[
                Point(time=from_epoch_us(time_us), value=value)
                for time_us, value in zip(message.times_us, message.values, strict=True)
            ],
        )
        return Delivery(frame, (message.source, message.name), frames)

    def is_live(self, message: SeriesBatch) -> bool:
        # A bulk import of last month's points is not news: stored, queried as history, but
        # not pushed to the charts watching the series now (nor to the alert rules).
        return not message.imported


class ClassEventFeed(Feed[ClassEvents]):
    """EVENTS: one ``events`` frame per stored batch of a class's events."""

    def __init__(self) -> None:
        self.stream = subjects.EVENTS_STREAM
        self.decoder = msgspec.msgpack.Decoder(ClassEvents)

    def delivery(
        self, channel: str, seq: int, message: ClassEvents, frames: FrameCodec
    ) -> Delivery:
        frame = Events(channel=channel, seq=seq, events=message.events)
        return Delivery(frame, (message.class_id, ""), frames)


class InboxFeed(Feed[InboxChange]):
    """NOTIFICATIONS: one ``notification`` frame per change of a user's inbox."""

    def __init__(self) -> None:
        self.stream = subjects.NOTIFICATIONS_STREAM
        self.decoder = msgspec.msgpack.Decoder(InboxChange)

    def delivery(
        self, channel: str, seq: int, message: InboxChange, frames: FrameCodec
    ) -> Delivery:
        frame = InboxFrame(
            channel=channel,
            seq=seq,
            change=message.change,
            unread=message.unread,
            version=message.version,
            notification=message.notification,
            ids=message.ids,
        )
        return Delivery(frame, (message.user_id, ""), frames)


class LogFeed(Feed[LogBatch]):
    """LOGS: one ``logs`` frame per batch of one service's audit records."""

    def __init__(self) -> None:
        self.stream = LOGS_STREAM
        self.decoder = msgspec.msgpack.Decoder(LogBatch)

    def delivery(self, channel: str, seq: int, message: LogBatch, frames: FrameCodec) -> Delivery:
        # Never conflated with one another: each batch is other records (a slow admin's
        # socket gets a gap frame rather than a batch in place of another).
        frame = LogsFrame(channel=channel, seq=seq, records=message.records)
        return Delivery(frame, ("logs", str(seq)), frames)


AnyFeed = Feed[Any]

METRIC_FEED = MetricFeed()
CLASS_EVENT_FEED = ClassEventFeed()
INBOX_FEED = InboxFeed()
LOG_FEED = LogFeed()
