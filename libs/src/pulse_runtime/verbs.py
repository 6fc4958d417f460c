"""A service that answers ``rpc.<domain>.<verb>`` requests: one subscription per verb in the
domain's queue group, each answering up to ``workers`` requests at once, every answer counted
by verb and outcome and logged with the request's trace id.

A subscription's messages wait for one another, so a slow verb (a login's password hash, a
notification to everyone) on a shared one would hold up every other verb behind it; on its own
subscription it only waits for itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import structlog
from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from prometheus_client import Counter
from pulse_contracts import RpcError

from .logging import get_logger
from .messaging import RawMessage, skip_decoding
from .tracing import TRACEPARENT, trace_id_of

log = get_logger(__name__)

UNENCODABLE = RpcError(code="unencodable", message="the answer could not be encoded")
"""Answered when the reply itself cannot be encoded (a bug): an error now, not a silence the
asker waits out until its timeout."""

ReplyFor = Callable[[str, bytes, "str | None"], Awaitable[object]]
"""``(verb, request bytes, traceparent)`` → the reply (an :class:`RpcError` when refused)."""


class VerbResponder:
    def __init__(
        self,
        prefix: str,
        verbs: Iterable[str],
        *,
        queue: str,
        workers: int,
        reply_for: ReplyFor,
        pack: Callable[[object], bytes],
        requests: Counter,
    ) -> None:
        """``prefix``: ``rpc.<domain>``; ``requests``: a counter labelled ``verb``, ``outcome``
        (``ok`` or the refusal's code)."""
        self._prefix = prefix
        self._verbs = tuple(verbs)
        self._queue = queue
        self._workers = workers
        self._reply_for = reply_for
        self._pack = pack
        self._requests = requests

    def router(self) -> NatsRouter:
        router = NatsRouter()

        async def answer(message: RawMessage) -> None:
            await self.answer(message.raw_message)

        for verb in self._verbs:
            router.subscriber(
                f"{self._prefix}.{verb}",
                queue=self._queue,
                decoder=skip_decoding,
                no_reply=True,
                max_workers=self._workers,
                title=f"{self._prefix}.{verb}",
            )(answer)
        return router

    async def answer(self, msg: Msg) -> None:
        verb = msg.subject.removeprefix(f"{self._prefix}.")
        traceparent = (msg.headers or {}).get(TRACEPARENT)
        structlog.contextvars.bind_contextvars(trace_id=trace_id_of(traceparent), verb=verb)
        try:
            reply = await self._reply_for(verb, msg.data, traceparent)
        finally:
            structlog.contextvars.unbind_contextvars("trace_id", "verb")
        try:
            packed = self._pack(reply)
        except (
            Exception
        ):  # a reply that cannot be encoded: the asker hears so now, not at its timeout
            log.exception("answer could not be encoded", verb=verb)
            reply = UNENCODABLE
            packed = self._pack(reply)
        outcome = reply.code if isinstance(reply, RpcError) else "ok"
        self._requests.labels(verb=verb, outcome=outcome).inc()
        if msg.reply:
            await msg.respond(packed)
