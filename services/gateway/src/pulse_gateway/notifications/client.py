"""The notifier owns every inbox; the gateway asks it over ``rpc.notify.<verb>`` and turns a
refusal into an HTTP error."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pulse_contracts import Codec, RpcError, subjects
from pulse_contracts.notifications import NOTIFY_VERBS, NotifyReply, NotifyRequest
from pulse_runtime.tracing import TRACEPARENT
from pulse_runtime.web import ApiError, current_traceparent

ReplyT = TypeVar("ReplyT")

STATUS = {
    "bad_request": 400,
    "unknown_recipient": 400,
    "no_recipients": 400,
}
"""The HTTP status of each refusal of the notifier; any other code is 503."""


class NotifierClient:
    def __init__(self, nats: Client, codec: Codec, *, timeout_s: float) -> None:
        self._nats = nats
        self._codec = codec
        self._timeout_s = timeout_s
        self._replies: msgspec.msgpack.Decoder[NotifyReply] = msgspec.msgpack.Decoder(NotifyReply)

    async def call(self, request: NotifyRequest, expect: type[ReplyT]) -> ReplyT:
        subject = subjects.notify_rpc(NOTIFY_VERBS[type(request)])
        try:
            reply = await self._nats.request(
                subject,
                self._codec.pack(request),
                timeout=self._timeout_s,
                headers={TRACEPARENT: current_traceparent.get("")},
            )
        except NoRespondersError:
            raise ApiError(503, "notifier_unavailable", "no notifier service is running") from None
        except NatsTimeoutError:
            raise ApiError(504, "notifier_timeout", "the notifier took too long") from None
        answer = self._replies.decode(reply.data)
        if isinstance(answer, RpcError):
            raise ApiError(STATUS.get(answer.code, 503), answer.code, answer.message)
        if not isinstance(answer, expect):
            raise ApiError(
                503, "notifier_unavailable", f"unexpected answer {type(answer).__name__}"
            )
        return answer
