"""Persistence answers the classroom's questions; the gateway asks over NATS (request/reply,
answers in parts when large, ADR 12) and turns a refusal into an HTTP error."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pulse_contracts import Codec, RpcError, subjects
from pulse_contracts.classroom import (
    CLASS_QUERY_VIEWS,
    CLASSROOM_VERBS,
    ClassQueryReply,
    ClassQueryRequest,
    ClassroomReply,
    ClassroomRequest,
)
from pulse_runtime.replies import IncompleteReply, ask
from pulse_runtime.tracing import TRACEPARENT
from pulse_runtime.web import ApiError, current_traceparent

ReplyT = TypeVar("ReplyT")

STATUS = {
    "class_not_found": 404,
    "class_exists": 409,
    "bad_request": 400,
    "invalid_range": 400,
    "range_too_large": 400,
    "too_many_students": 400,
    "too_many_cells": 400,
    "answer_too_large": 400,
}
"""The HTTP status of each refusal of persistence; any other code is 503."""


class ClassroomClient:
    def __init__(self, nats: Client, codec: Codec, *, timeout_s: float) -> None:
        self._nats = nats
        self._codec = codec
        self._timeout_s = timeout_s
        self._verb_replies: msgspec.msgpack.Decoder[ClassroomReply] = msgspec.msgpack.Decoder(
            ClassroomReply
        )
        self._view_replies: msgspec.msgpack.Decoder[ClassQueryReply] = msgspec.msgpack.Decoder(
            ClassQueryReply
        )

    async def call(self, request: ClassroomRequest, expect: type[ReplyT]) -> ReplyT:
        """A class verb's answer (``rpc.classroom.<verb>``)."""
        subject = subjects.classroom_rpc(CLASSROOM_VERBS[type(request)])
        data = await self._ask(subject, self._codec.pack(request))
        return _expected(self._verb_replies.decode(data), expect)

    async def view(self, query: ClassQueryRequest, expect: type[ReplyT]) -> ReplyT:
        """A class view (``rpc.query.class.<view>``), taking its answer in parts if need be."""
        subject = subjects.class_query(CLASS_QUERY_VIEWS[type(query)])
        offer = msgspec.structs.replace(query, part_bytes=self._nats.max_payload)
        data = await self._ask(subject, self._codec.pack(offer))
        return _expected(self._view_replies.decode(data), expect)

    async def _ask(self, subject: str, payload: bytes) -> bytes:
        try:
            return await ask(
                self._nats,
                subject,
                payload,
                timeout_s=self._timeout_s,
                headers={TRACEPARENT: current_traceparent.get("")},
            )
        except NoRespondersError:
            raise ApiError(
                503, "classroom_unavailable", "no persistence service is running"
            ) from None
        except NatsTimeoutError:
            raise ApiError(504, "classroom_timeout", "the class query took too long") from None
        except IncompleteReply as exc:
            raise ApiError(
                503, "classroom_unavailable", f"the answer arrived incomplete ({exc})"
            ) from None


def _expected(answer: Any, expect: type[ReplyT]) -> ReplyT:
    if isinstance(answer, RpcError):
        raise ApiError(STATUS.get(answer.code, 503), answer.code, answer.message)
    if not isinstance(answer, expect):
        raise ApiError(503, "classroom_unavailable", f"unexpected answer {type(answer).__name__}")
    return answer
