"""Encoders and decoders, built once and reused (msgspec's fast path).

Internal traffic is msgpack. External producers may send JSON (the default) or msgpack,
told apart by the ``Content-Type`` header.
"""

from __future__ import annotations

from typing import Any, Final, Protocol, TypeVar

import msgspec

from .accounts.verbs import AuthReply, AuthRequest
from .deadletter import DeadLetter
from .metrics.points import ProducerMetrics, SeriesBatch
from .metrics.queries import CatalogQuery, CatalogReply, MetricsQuery, MetricsQueryReply

CONTENT_TYPE_HEADER: Final = "Content-Type"
JSON: Final = "application/json"
MSGPACK: Final = "application/msgpack"
_MSGPACK_ALIASES: Final = frozenset({MSGPACK, "application/x-msgpack", "application/vnd.msgpack"})
MSGPACK_INTS: Final = (-(1 << 63), 1 << 64)
"""``[low, high)`` of the integers msgpack (the LOGS batches, the answers) carries; a bigger one
is kept as its text."""


T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
Buffer_contra = TypeVar("Buffer_contra", contravariant=True)


class _Decoder(Protocol[Buffer_contra, T_co]):
    def decode(self, buf: Buffer_contra, /) -> T_co: ...


def decode_untrusted(decoder: _Decoder[Buffer_contra, T], data: Buffer_contra) -> T:
    """``decoder.decode(data)`` for bytes from outside the process: whatever is wrong with them
    raises :class:`msgspec.DecodeError` (:class:`msgspec.ValidationError` included), never
    anything else.

    msgspec (0.22) raises ``RecursionError`` for input nested deeper than the interpreter's
    recursion limit (in a field it skips, or a ``Raw``/``Any`` value) and ``UnicodeDecodeError``
    for invalid UTF-8 in some strings: the sender's fault, to be refused like any bad input
    rather than crash a handler (which then answers nobody).
    """
    try:
        return decoder.decode(data)
    except UNDECODABLE as exc:
        raise msgspec.DecodeError(undecodable_reason(exc)) from None


UNDECODABLE = (RecursionError, UnicodeDecodeError)
"""What msgspec raises, beside :class:`msgspec.DecodeError`, for input it cannot take apart."""


def undecodable_reason(exc: RecursionError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid UTF-8 in a string ({exc.reason})"
    return "nested too deeply to decode"


class Codec:
    """One decoder per message type, for both formats, plus shared encoders."""

    def __init__(self) -> None:
        self.json_encoder = msgspec.json.Encoder()
        self.msgpack_encoder = msgspec.msgpack.Encoder()
        self.producer_json: msgspec.json.Decoder[ProducerMetrics] = msgspec.json.Decoder(
            ProducerMetrics
        )
        self.producer_msgpack: msgspec.msgpack.Decoder[ProducerMetrics] = msgspec.msgpack.Decoder(
            ProducerMetrics
        )
        self.series_batch = msgspec.msgpack.Decoder(SeriesBatch)
        self.deadletter = msgspec.msgpack.Decoder(DeadLetter)
        self.metrics_query = msgspec.msgpack.Decoder(MetricsQuery)
        self.catalog_query = msgspec.msgpack.Decoder(CatalogQuery)
        self.metrics_query_reply: msgspec.msgpack.Decoder[MetricsQueryReply] = (
            msgspec.msgpack.Decoder(MetricsQueryReply)
        )

        self.catalog_reply: msgspec.msgpack.Decoder[CatalogReply] = msgspec.msgpack.Decoder(
            CatalogReply
        )
        self.auth_request: msgspec.msgpack.Decoder[AuthRequest] = msgspec.msgpack.Decoder(
            AuthRequest
        )
        self.auth_reply: msgspec.msgpack.Decoder[AuthReply] = msgspec.msgpack.Decoder(AuthReply)

    def pack(self, message: Any) -> bytes:
        return self.msgpack_encoder.encode(message)

    def decode_producer_metrics(self, data: bytes, content_type: str | None) -> ProducerMetrics:
        """Decode what a producer sent; raises :class:`msgspec.ValidationError` or DecodeError."""
        if is_msgpack(content_type):
            return decode_untrusted(self.producer_msgpack, data)
        return decode_untrusted(self.producer_json, data)


def is_msgpack(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() in _MSGPACK_ALIASES
