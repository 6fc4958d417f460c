"""Who may watch a class channel: admins every class, an instructor the classes they own.

A class's owner is persistence's to know (``classes.owner_id``); the gateway asks it over
``rpc.classroom.get`` and keeps the answer ``PULSE_WS_CLASS_OWNER_TTL_S`` (30 s), so that a
hundred instructors' tabs opening the same class cost one request. Concurrent subscribes to
a class not known yet share one request. A class that does not exist is refused exactly like
one the instructor does not own (``forbidden``, the same message): a channel name reveals
nothing about which classes exist.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final

import msgspec
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pulse_contracts import RpcError, decode_untrusted, subjects
from pulse_contracts.classroom import CLASSROOM_VERBS, ClassReply, GetClass
from pulse_runtime.access_tokens import AccessClaims
from pulse_runtime.logging import get_logger

from .channels import ChannelRefused, ChannelSpec

log = get_logger(__name__)

_GET_CLASS = subjects.classroom_rpc(CLASSROOM_VERBS[GetClass])
_NOT_FOUND_TTL_S: Final = 5.0
"""A class not found is asked again sooner: an instructor may have just created it."""
_NO_CLASS: Final = "class_not_found"


class _Missing:
    """The answer "no such class" (cached like an owner)."""


NO_SUCH_CLASS: Final = _Missing()
Owner = str | None | _Missing
"""A class's owner id, None for a class without one (admins only), or :data:`NO_SUCH_CLASS`."""


class ClassOwners:
    """Each class's owner, asked of persistence and kept for ``ttl_s``."""

    def __init__(
        self,
        nats: Client,
        *,
        timeout_s: float,
        ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nats = nats
        self._timeout_s = timeout_s
        self._ttl_s = ttl_s
        self._clock = clock
        self._known: dict[str, tuple[float, Owner]] = {}  # class id -> (valid until, owner)
        self._asking: dict[str, asyncio.Future[Owner]] = {}
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder: msgspec.msgpack.Decoder[ClassReply | RpcError] = msgspec.msgpack.Decoder(
            ClassReply | RpcError
        )
        self.requests = 0

    async def owner(self, class_id: str) -> Owner:
        """Raises :class:`ChannelRefused` (``unavailable``) when persistence cannot say."""
        known = self._known.get(class_id)
        if known is not None and self._clock() < known[0]:
            return known[1]
        asking = self._asking.get(class_id)
        if asking is None:
            asking = self._asking[class_id] = asyncio.ensure_future(self._ask(class_id))
        return await asyncio.shield(asking)

    async def _ask(self, class_id: str) -> Owner:
        try:
            self.requests += 1
            try:
                reply = await self._nats.request(
                    _GET_CLASS,
                    self._encoder.encode(GetClass(class_id=class_id)),
                    timeout=self._timeout_s,
                )
                answer = decode_untrusted(self._decoder, reply.data)
            except (NoRespondersError, NatsTimeoutError, msgspec.DecodeError) as exc:
                log.warning("class owner unknown", class_id=class_id, error=repr(exc))
                raise ChannelRefused(
                    "unavailable", "who may watch this class cannot be checked now; try again"
                ) from None
            owner: Owner
            if isinstance(answer, ClassReply):
                owner, ttl_s = answer.class_.owner_id, self._ttl_s
            elif answer.code == _NO_CLASS:
                owner, ttl_s = NO_SUCH_CLASS, min(self._ttl_s, _NOT_FOUND_TTL_S)
            else:
                log.warning("class owner unknown", class_id=class_id, code=answer.code)
                raise ChannelRefused(
                    "unavailable", "who may watch this class cannot be checked now; try again"
                )
            self._known[class_id] = (self._clock() + ttl_s, owner)
            return owner
        finally:
            del self._asking[class_id]


async def check_class_access(spec: ChannelSpec, claims: AccessClaims, owners: ClassOwners) -> None:
    """After the role check (``channels.authorize``): an instructor must own the class."""
    if spec.class_id is None or claims.role == "admin":
        return
    owner = await owners.owner(spec.class_id)
    if owner is NO_SUCH_CLASS or owner is None or owner != claims.sub:
        raise ChannelRefused("forbidden", f"you may not watch {spec.name!r}")
