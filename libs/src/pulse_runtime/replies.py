"""Request/reply whose answer may be larger than one NATS message (ADR 12).

:func:`send_reply` (the answerer) sends one message when the answer fits, else numbered parts
to the request's reply subject; :func:`ask` (the asker) collects them on an inbox of its own.
The protocol itself (header, sizes) is :mod:`pulse_contracts.reply_parts`. Sizes come from
the connection's ``max_payload`` (the server's INFO), never from an assumed 1 MiB.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pulse_contracts.reply_parts import (
    HEADER_ROOM,
    MIN_PART_BYTES,
    PART_HEADER,
    parse_part_header,
    part_header,
    slices,
)

_STATUS_HEADER = "Status"
_NO_RESPONDERS = "503"  # the server's answer to a request nobody listens to


class ReplyTooLarge(Exception):
    """The answer fits neither one message nor, as the asker takes none, parts."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the answer is {size} bytes; one NATS message takes {limit}")
        self.size = size
        self.limit = limit


class IncompleteReply(Exception):
    """Some parts of an answer arrived, not all of them, or not in order."""


async def send_reply(nats: Client, reply_to: str, data: bytes, *, part_bytes: int) -> int:
    """Send ``data`` to ``reply_to``; how many parts it took (0: one plain message).

    ``part_bytes`` is the request's offer (0: it takes no parts). Raises
    :class:`ReplyTooLarge` before sending anything when the answer cannot go at all.
    """
    limit = nats.max_payload
    if len(data) <= limit:
        await nats.publish(reply_to, data)
        return 0
    offered = min(part_bytes, limit)
    if offered < MIN_PART_BYTES:
        raise ReplyTooLarge(len(data), limit)
    pieces = slices(data, offered - HEADER_ROOM)
    for number, piece in enumerate(pieces, start=1):
        await nats.publish(reply_to, piece, headers={PART_HEADER: part_header(number, len(pieces))})
    return len(pieces)


async def ask(
    nats: Client,
    subject: str,
    payload: bytes,
    *,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """The whole answer to a request whose ``payload`` offers parts (``part_bytes``).

    ``timeout_s`` bounds the wait for the first message (the answerer's work) and then for
    each further part. Raises NoRespondersError, nats' TimeoutError (no answer at all) or
    :class:`IncompleteReply` (an answer began but did not arrive whole).
    """
    inbox = nats.new_inbox()
    # Its own inbox (not the client's shared request inbox, which keeps only the first
    # message of a reply): created before the request goes out, so no part can be missed.
    subscription = await nats.subscribe(inbox)
    try:
        await nats.publish(
            subject, payload, reply=inbox, headers=dict(headers) if headers else None
        )
        first = await subscription.next_msg(timeout=timeout_s)
        if (first.headers or {}).get(_STATUS_HEADER) == _NO_RESPONDERS:
            raise NoRespondersError
        part = _part_of(first)
        if part is None:
            return first.data
        if part[0] != 1:
            raise IncompleteReply(f"the answer began with part {part[0]} of {part[1]}")
        count = part[1]
        pieces = [first.data]
        for number in range(2, count + 1):
            try:
                message = await subscription.next_msg(timeout=timeout_s)
            except NatsTimeoutError:
                raise IncompleteReply(
                    f"part {number} of {count} did not arrive within {timeout_s:g} s"
                ) from None
            part = _part_of(message)
            if part is None:  # the answerer gave up and sent a whole reply (an error) instead
                return message.data
            if part != (number, count):
                raise IncompleteReply(f"part {part[0]} of {part[1]} came for {number} of {count}")
            pieces.append(message.data)
        return b"".join(pieces)
    finally:
        with contextlib.suppress(NatsError):
            await subscription.unsubscribe()


def _part_of(message: Msg) -> tuple[int, int] | None:
    value = (message.headers or {}).get(PART_HEADER)
    if value is None:
        return None
    try:
        return parse_part_header(value)
    except ValueError as exc:
        raise IncompleteReply(str(exc)) from None
