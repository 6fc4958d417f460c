"""The ``/ws`` protocol: the frames a client and the gateway exchange, and the close codes.

Documented in docs/websocket.md. Text frames carry JSON; a client that offers the
``pulse.msgpack.v1`` subprotocol gets the same structures as binary msgpack frames.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

import msgspec
from pulse_contracts import decode_untrusted
from pulse_contracts.audit import LogRecord
from pulse_contracts.classroom import NotebookEvent
from pulse_contracts.notifications import Notification

from pulse_gateway.metrics.schemas import MetricPointOut

MSGPACK_SUBPROTOCOL = "pulse.msgpack.v1"

# Close codes (docs/websocket.md). 1009 (frame too big) and 1012 (service restart) are the
# standard ones; the 44xx codes mirror the HTTP statuses they resemble.
CLOSE_SHUTTING_DOWN = 1012
CLOSE_TOO_BIG = 1009
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_SLOW_CONSUMER = 4408
CLOSE_HEARTBEAT_MISSED = 4409
CLOSE_BAD_FRAMES = 4400
CLOSE_FLOOD = 4429

Channel = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


# -- client to gateway --------------------------------------------------------------------


class Auth(msgspec.Struct, frozen=True, tag="auth"):
    """First frame of every socket, and again whenever the client has a fresher token."""

    token: str


class HistoryRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    minutes: Annotated[float, msgspec.Meta(gt=0)]
    max_points: Annotated[int, msgspec.Meta(ge=1)] = 1000
    """Metric channels: at most this many points (buckets beyond). Class channels: the
    latest this many events of the last ``minutes``."""


class Subscribe(msgspec.Struct, frozen=True, tag="subscribe", forbid_unknown_fields=True):
    channel: Channel
    history: HistoryRequest | None = None
    resume_from: Annotated[int, msgspec.Meta(ge=0)] | None = None
    """The last sequence the client received on this channel: the gateway replays the rest."""
    max_rate: Annotated[float, msgspec.Meta(gt=0)] | None = None
    """At most this many frames a second per series; the latest value of each interval.
    Metric channels only: a class channel sends every event (``unsupported_option``)."""


class Unsubscribe(msgspec.Struct, frozen=True, tag="unsubscribe", forbid_unknown_fields=True):
    channel: Channel


class Ping(msgspec.Struct, frozen=True, tag="ping"):
    pass


class Pong(msgspec.Struct, frozen=True, tag="pong"):
    pass


ClientFrame = Auth | Subscribe | Unsubscribe | Ping | Pong


# -- gateway to client --------------------------------------------------------------------


class Ready(msgspec.Struct, frozen=True, tag="ready"):
    user: str
    role: str
    heartbeat_s: float
    expires_at: datetime


class Point(msgspec.Struct, frozen=True):
    time: datetime
    value: float


class Bucket(msgspec.Struct, frozen=True):
    time: datetime
    """Start of the bucket (or the point's time, when ``bucket_s`` is 0)."""
    min: float
    max: float
    avg: float
    count: int


class SeriesHistory(msgspec.Struct, frozen=True):
    source: str
    name: str
    points: list[Bucket]


class History(msgspec.Struct, frozen=True):
    start: datetime
    bucket_s: int
    """0: every point as it was measured; otherwise buckets this many seconds wide."""
    series: list[SeriesHistory]


class Subscribed(msgspec.Struct, frozen=True, tag="subscribed"):
    channel: str
    seq: int
    """The stream sequence the history (or the replay that follows) is complete up to."""
    history: History | None = None
    max_rate: float | None = None


class Data(msgspec.Struct, frozen=True, tag="data"):
    channel: str
    seq: int
    source: str
    name: str
    points: list[Point]
    unit: str | None = None


class Events(msgspec.Struct, frozen=True, tag="events"):
    """Events of a class channel (``class:<class_id>``), oldest first, as producers sent them
    and Pulse stores them (camelCase names, defaults left out). Live: one frame per message
    of the EVENTS stream, ``seq`` its stream sequence. History: the class's latest events in
    frames of at most 100, each with the sequence of the message its last event came from."""

    channel: str
    seq: int
    events: list[NotebookEvent]


class InboxFrame(msgspec.Struct, frozen=True, tag="notification"):
    """A change of the user's inbox on their ``notifications`` channel: a new notification
    (``created``, with it), or some marked ``read``, ``unread``, ``seen`` or ``archived``
    (``ids``). ``unread`` is their unread count after it and ``version`` the inbox's version:
    show the count of the highest version seen, here or from ``GET /api/v1/notifications/unread``.
    """

    channel: str
    seq: int
    change: str
    unread: int
    version: int
    notification: Notification | None = None
    ids: list[int] = []


class LogsFrame(msgspec.Struct, frozen=True, tag="logs"):
    """Audit records on the admins' ``logs`` channel: the records of one LOGS message (one
    service's batch, oldest first: access records, ``type`` ``access``, and task steps,
    ``type`` ``step``), as it is stored, ``seq`` its stream sequence. A live tail: search the
    past with ``GET /api/v1/admin/audit/access`` and ``/tasks``."""

    channel: str
    seq: int
    records: list[LogRecord]


class Gap(msgspec.Struct, frozen=True, tag="gap"):
    """Frames between the sequences may be missing: re-query the history if they matter."""

    channel: str
    after_seq: int
    before_seq: int
    reason: str


class Unsubscribed(msgspec.Struct, frozen=True, tag="unsubscribed"):
    channel: str


class Error(msgspec.Struct, frozen=True, tag="error"):
    code: str
    message: str
    channel: str | None = None


ServerFrame = (
    Ready
    | Subscribed
    | Data
    | Events
    | InboxFrame
    | LogsFrame
    | Gap
    | Unsubscribed
    | Error
    | Ping
    | Pong
)


class FrameCodec:
    """Reused encoders and decoders for both wire formats."""

    def __init__(self) -> None:
        self._json_encoder = msgspec.json.Encoder()
        self._msgpack_encoder = msgspec.msgpack.Encoder()
        self._json_decoder = msgspec.json.Decoder(ClientFrame)
        self._msgpack_decoder = msgspec.msgpack.Decoder(ClientFrame)

    def encode(self, frame: ServerFrame, *, msgpack: bool) -> str | bytes:
        """What the socket sends: str for a JSON text frame, bytes for a msgpack one."""
        if msgpack:
            return self._msgpack_encoder.encode(frame)
        return self._json_encoder.encode(frame).decode()

    def encode_point(self, source: str, name: str, point: Point) -> str:
        """A ``/ws/metrics`` frame: one point, ``{timestamp, value, type, source}``."""
        return self._json_encoder.encode(
            MetricPointOut(timestamp=point.time, value=point.value, type=name, source=source)
        ).decode()

    def encode_bytes(self, frame: ServerFrame, *, msgpack: bool) -> bytes:
        return (self._msgpack_encoder if msgpack else self._json_encoder).encode(frame)

    def decode(self, raw: str | bytes) -> ClientFrame:
        """Raises msgspec.DecodeError (ValidationError included) for a bad frame, and nothing
        else (too deep, invalid UTF-8: see :func:`decode_untrusted`)."""
        if isinstance(raw, str):
            return cast("ClientFrame", decode_untrusted(self._json_decoder, raw))
        return cast("ClientFrame", decode_untrusted(self._msgpack_decoder, raw))
