"""Typed requests to the auth service over ``rpc.auth.<verb>``."""

from __future__ import annotations

from typing import TypeVar

from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pulse_contracts import Codec, RpcError, subjects
from pulse_contracts.accounts import AUTH_VERBS, AuthReply, AuthRequest

from .tracing import TRACEPARENT

ReplyT = TypeVar("ReplyT", bound=AuthReply)


class AuthUnavailable(Exception):
    """No auth service answered in time."""


class AuthRefused(Exception):
    """Auth answered with a typed error."""

    def __init__(self, error: RpcError) -> None:
        super().__init__(error.message)
        self.error = error


class AuthClient:
    def __init__(self, nats: Client, codec: Codec, *, timeout_s: float = 5.0) -> None:
        self._nats = nats
        self._codec = codec
        self._timeout_s = timeout_s

    async def call(
        self, request: AuthRequest, expect: type[ReplyT], traceparent: str | None = None
    ) -> ReplyT:
        """Send ``request`` to its verb's subject; the reply if it is an ``expect``.

        Raises :class:`AuthRefused` for a typed error and :class:`AuthUnavailable` when no
        auth service answers.
        """
        subject = subjects.auth_rpc(AUTH_VERBS[type(request)])
        headers = {TRACEPARENT: traceparent} if traceparent else None
        try:
            message = await self._nats.request(
                subject, self._codec.pack(request), timeout=self._timeout_s, headers=headers
            )
        except (NoRespondersError, NatsTimeoutError):
            raise AuthUnavailable("the auth service did not answer") from None
        reply = self._codec.auth_reply.decode(message.data)
        if isinstance(reply, RpcError):
            raise AuthRefused(reply)
        if not isinstance(reply, expect):
            raise AuthUnavailable(f"unexpected reply {type(reply).__name__} to {subject}")
        return reply
