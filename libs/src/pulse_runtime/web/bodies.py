"""A request's or a response's body as the access log keeps it: the first bytes of it, up to a
bound, taken as it passes (:class:`BodyCapture`), then made a JSON value (:func:`stored_body`).

A JSON (or msgpack) body within the bound is kept as its value, secrets redacted
(:mod:`.redaction`); anything else is one of the markers of
:data:`~pulse_contracts.audit.BODY_MARKERS`: ``{"$text": "…"}`` (UTF-8 text that is not JSON),
``{"$truncated": {"bytes": n, "preview": "…"}}`` (bigger than the bound: its first part as
text), ``{"$binary": {"bytes": n, "content_type": "…"}}`` (not UTF-8 text). Whatever the bytes
are, the result is a value ``jsonb`` takes, and nothing raises.
"""

from __future__ import annotations

from typing import Any

import msgspec
from pulse_contracts import UNDECODABLE

from pulse_runtime.audit.text_secrets import redact_text

from .redaction import redact_json

PREVIEW_CHARS = 1000
"""A ``$truncated`` body's preview at most."""
_JSON = msgspec.json.Decoder()
_MSGPACK = msgspec.msgpack.Decoder()


class BodyCapture:
    """The first ``limit`` bytes of a body that passes through, and how many bytes passed: a
    copy of at most ``limit`` bytes, whatever the body's size."""

    __slots__ = ("_chunks", "_kept", "limit", "total")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.total = 0
        self._kept = 0
        self._chunks: list[bytes] = []

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.limit + 1 - self._kept  # one byte more than the limit tells it was bigger
        if room > 0 and chunk:
            part = chunk if len(chunk) <= room else chunk[:room]
            self._chunks.append(part)
            self._kept += len(part)

    @property
    def data(self) -> bytes:
        return b"".join(self._chunks)


def stored_body(data: bytes, total: int, content_type: str | None, limit: int) -> Any:
    """The body of ``total`` bytes whose first bytes are ``data`` (``content_type`` as sent),
    as the record keeps it: None when empty, its JSON value within ``limit``, else a marker."""
    if total == 0:
        return None
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if total > limit or len(data) < total:
        return _truncated(data[:limit], total, media)
    if "msgpack" in media:
        return _msgpack(data, media)
    text = _text(data)
    if text is None:
        return _binary(total, media)
    try:
        return redact_json(_JSON.decode(data))
    except (msgspec.DecodeError, *UNDECODABLE):
        return {"$text": redact_text(text).replace("\x00", "")}


def _msgpack(data: bytes, media: str) -> Any:
    """A msgpack body as the JSON value it would be (bytes as base64 text)."""
    try:
        return redact_json(msgspec.to_builtins(_MSGPACK.decode(data), str_keys=True))
    except (msgspec.DecodeError, *UNDECODABLE, TypeError, ValueError):
        return _binary(len(data), media)


def _truncated(data: bytes, total: int, media: str) -> Any:
    if "msgpack" in media or _text(data, partial=True) is None:
        return _binary(total, media)
    preview = data[:PREVIEW_CHARS].decode("utf-8", "ignore")
    preview = redact_text(preview).replace("\x00", "")[:PREVIEW_CHARS]
    return {"$truncated": {"bytes": total, "preview": preview}}


def _binary(total: int, media: str) -> Any:
    return {"$binary": {"bytes": total, "content_type": media or None}}


def _text(data: bytes, *, partial: bool = False) -> str | None:
    """``data`` as UTF-8 text, None when it is not (a body cut short may end inside a
    character: ``partial`` forgives that)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if partial and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8", "ignore")
        return None
