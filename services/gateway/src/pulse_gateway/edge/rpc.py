"""Asking a service behind the gateway over ``rpc.<domain>.<verb>``: one request, one reply,
its refusal turned into an HTTP error by a table of that domain's codes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import msgspec
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pulse_contracts import Codec, RpcError
from pulse_runtime.tracing import TRACEPARENT
from pulse_runtime.web import ApiError, current_traceparent

ReplyT = TypeVar("ReplyT")
RequestT = TypeVar("RequestT")


class RpcClient(Generic[RequestT]):
    """A domain's verbs: ``subject_of(request)`` names the subject, ``replies`` is the union of
    its answers, ``status`` the HTTP status of each refusal code (any other: 503).
    ``service`` names it in the 503 ``<service>_unavailable`` and 504 ``<service>_timeout``."""

    def __init__(
        self,
        nats: Client,
        codec: Codec,
        *,
        service: str,
        subject_of: Callable[[RequestT], str],
        replies: Any,
        status: Mapping[str, int],
        timeout_s: float,
    ) -> None:
        self._nats = nats
        self._codec = codec
        self._service = service
        self._subject_of = subject_of
        self._replies: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(replies)
        self._status = status
        self._timeout_s = timeout_s

    async def call(self, request: RequestT, expect: type[ReplyT]) -> ReplyT:
        try:
            reply = await self._nats.request(
                self._subject_of(request),
                self._codec.pack(request),
                timeout=self._timeout_s,
                headers={TRACEPARENT: current_traceparent.get("")},
            )
        except NoRespondersError:
            raise ApiError(
                503, f"{self._service}_unavailable", f"no {self._service} service is running"
            ) from None
        except NatsTimeoutError:
            raise ApiError(
                504, f"{self._service}_timeout", f"the {self._service} service took too long"
            ) from None
        answer = self._replies.decode(reply.data)
        if isinstance(answer, RpcError):
            raise ApiError(self._status.get(answer.code, 503), answer.code, answer.message)
        if not isinstance(answer, expect):
            unexpected = type(answer).__name__
            raise ApiError(503, f"{self._service}_unavailable", f"unexpected answer {unexpected}")
        return answer
