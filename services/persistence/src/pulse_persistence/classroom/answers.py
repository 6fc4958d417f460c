"""The NATS side of the classroom's questions: each verb of ``rpc.classroom`` and each view of
``rpc.query.class`` on its own subject (queue group, so replicas share them), decoded, answered
from the database, and sent back, in parts when the asker takes them (ADR 12).

A request that cannot be decoded is answered ``bad_request``; the database away
``unavailable``; an answer too large for one message, to an asker that takes no parts,
``answer_too_large``: every request gets an answer, never a timeout.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec
from faststream.nats import NatsBroker, NatsRouter
from nats.aio.msg import Msg
from pulse_contracts import Codec, RpcError, decode_untrusted, subjects
from pulse_contracts.classroom import (
    CLASS_QUERY_VIEWS,
    CLASSROOM_VERBS,
    CreateClass,
    FeedQuery,
    GetClass,
    HotspotsQuery,
    ListClasses,
    OverviewQuery,
    ProgressQuery,
    TimelineQuery,
    UpdateClass,
)
from pulse_runtime.database import answered
from pulse_runtime.logging import get_logger
from pulse_runtime.messaging import RawMessage, skip_decoding
from pulse_runtime.replies import ReplyTooLarge, send_reply

from .classes import ClassBook
from .feed import class_feed
from .hotspots import class_hotspots
from .overview import class_overview
from .progress import class_progress
from .timeline import student_timeline

log = get_logger(__name__)

Answer = Callable[[asyncpg.Pool, Any], Awaitable[object]]


def _answers() -> dict[str, tuple[type[Any], Answer]]:
    """Subject -> (request type, how it is answered)."""
    verbs: dict[type[Any], Answer] = {
        CreateClass: lambda pool, r: ClassBook(pool).create(r),
        UpdateClass: lambda pool, r: ClassBook(pool).update(r),
        ListClasses: lambda pool, r: ClassBook(pool).visible(r),
        GetClass: lambda pool, r: ClassBook(pool).get(r),
    }
    views: dict[type[Any], Answer] = {
        OverviewQuery: class_overview,
        ProgressQuery: class_progress,
        HotspotsQuery: class_hotspots,
        TimelineQuery: student_timeline,
        FeedQuery: class_feed,
    }
    table = {
        subjects.classroom_rpc(CLASSROOM_VERBS[kind]): (kind, answer)
        for kind, answer in verbs.items()
    }
    table.update(
        {
            subjects.class_query(CLASS_QUERY_VIEWS[kind]): (kind, answer)
            for kind, answer in views.items()
        }
    )
    return table


class ClassroomAnswers:
    """The responders; :attr:`pool` is set once the database is open (before NATS)."""

    def __init__(self, codec: Codec, broker: NatsBroker) -> None:
        self._codec = codec
        self._broker = broker
        self._table = _answers()
        self._decoders = {
            subject: msgspec.msgpack.Decoder(kind) for subject, (kind, _) in self._table.items()
        }
        self.pool: asyncpg.Pool | None = None

    @property
    def subjects(self) -> list[str]:
        return sorted(self._table)

    def router(self) -> NatsRouter:
        router = NatsRouter()
        for subject in self._table:
            router.subscriber(
                subject,
                queue=subjects.PERSISTENCE_QUEUE,
                decoder=skip_decoding,
                no_reply=True,
                title=subject,
            )(self._handler(subject))
        return router

    def _handler(self, subject: str) -> Callable[[RawMessage], Awaitable[None]]:
        async def answer(message: RawMessage) -> None:
            await self.answer(subject, message.raw_message)

        answer.__name__ = "answer_" + subject.replace(".", "_")
        return answer

    async def reply_to(self, subject: str, data: bytes) -> tuple[object, int]:
        """The answer to one request's bytes on ``subject``, and the parts the asker takes
        (the class views offer them; the verbs do not)."""
        try:
            request = decode_untrusted(self._decoders[subject], data)
        except msgspec.DecodeError as exc:
            return RpcError(code="bad_request", message=str(exc)), 0
        pool = self.pool
        assert pool is not None
        answer = self._table[subject][1]
        reply = await answered(lambda: answer(pool, request), failed=f"{subject} failed")
        return reply, getattr(request, "part_bytes", 0)

    async def answer(self, subject: str, msg: Msg) -> None:
        if not msg.reply:
            return
        reply, part_bytes = await self.reply_to(subject, msg.data)
        nats = self._broker.connection
        try:
            await send_reply(nats, msg.reply, self._codec.pack(reply), part_bytes=part_bytes)
        except ReplyTooLarge as exc:
            refusal = RpcError(
                code="answer_too_large",
                message=f"{exc}: narrow the question (a smaller limit or range)",
            )
            await send_reply(nats, msg.reply, self._codec.pack(refusal), part_bytes=0)
        except Exception:
            log.exception("answer not sent", subject=subject)
            failure = RpcError(code="internal_error", message="the answer could not be sent")
            with contextlib.suppress(Exception):  # the connection itself may be gone
                await send_reply(nats, msg.reply, self._codec.pack(failure), part_bytes=0)
