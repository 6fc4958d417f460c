"""The audit views' page cursors: opaque to clients, a position in a list to the server.

A cursor is the keyset of the last item of a page (its time and id, or its id alone for dead
letters, which are listed by id) with the list it belongs to, as URL-safe base64 of JSON. The
next page is what sorts after it, newest first: a page never repeats or skips an item, however
many rows arrive meanwhile. A cursor that is not one of ours, or belongs to another list, is
refused ``bad_cursor``.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Literal

import msgspec
from pulse_contracts import RpcError

ListName = Literal["access", "tasks", "deadletters"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


class Position(msgspec.Struct, frozen=True, array_like=True):
    of: str
    time_us: int | None
    id: int


class BadCursor(Exception):
    """The cursor was not made by :func:`cursor_after` for this list."""

    def __init__(self, list_name: str) -> None:
        super().__init__(f"cursor is not one this {list_name} list gave: start from the first page")

    def refusal(self) -> RpcError:
        return RpcError(code="bad_cursor", message=str(self))


_decoder = msgspec.json.Decoder(Position)


def cursor_after(list_name: ListName, row_id: int, at: datetime | None = None) -> str:
    """The cursor of the page that follows the item ``(at, row_id)``."""
    time_us = None if at is None else (at - _EPOCH) // _US
    raw = msgspec.json.encode(Position(list_name, time_us, row_id))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def position_of(list_name: ListName, cursor: str) -> tuple[datetime | None, int]:
    """The ``(time, id)`` a cursor points after; raises :class:`BadCursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = _decoder.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise BadCursor(list_name) from None
    if position.of != list_name or not 0 <= position.id < 2**63:
        raise BadCursor(list_name)
    if (position.time_us is None) != (list_name == "deadletters"):
        raise BadCursor(list_name)
    if position.time_us is None:
        return None, position.id
    try:
        return _EPOCH + position.time_us * _US, position.id
    except (OverflowError, TypeError):
        raise BadCursor(list_name) from None
