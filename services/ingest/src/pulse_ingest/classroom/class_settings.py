"""Each class's producer settings, asked of persistence (``rpc.classroom.producer_settings``)
and kept briefly: producers read them over HTTP, and ingest drops ``code`` from the events of
a class that does not collect it (ADR 0023, decision 6)."""

from __future__ import annotations

import time

import msgspec
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pulse_contracts import Codec, RpcError, decode_untrusted, subjects
from pulse_contracts.classroom import (
    CLASSROOM_VERBS,
    GetProducerSettings,
    ProducerSettings,
    ProducerSettingsReply,
)

PRODUCER_SETTINGS_SUBJECT = subjects.classroom_rpc(CLASSROOM_VERBS[GetProducerSettings])
_MAX_ENTRIES = 10_000


class ClassroomUnavailable(Exception):
    """Persistence did not answer (or answered something unexpected)."""


class ClassSettingsCache:
    """Answers for ``ttl_s``: a class that is unknown is remembered as unknown (None) as long;
    a failed request is not remembered (the next one asks again)."""

    def __init__(self, nats: Client, codec: Codec, *, ttl_s: float, timeout_s: float) -> None:
        self._nats = nats
        self._codec = codec
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._replies = msgspec.msgpack.Decoder(ProducerSettingsReply | RpcError)
        self._entries: dict[str, tuple[float, ProducerSettings | None]] = {}

    async def settings(self, class_id: str) -> ProducerSettings | None:
        """The class's settings; None for a class persistence does not know.

        Raises :class:`ClassroomUnavailable` when persistence does not answer.
        """
        now = time.monotonic()
        cached = self._entries.get(class_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            message = await self._nats.request(
                PRODUCER_SETTINGS_SUBJECT,
                self._codec.pack(GetProducerSettings(class_id=class_id)),
                timeout=self._timeout_s,
            )
            reply = decode_untrusted(self._replies, message.data)
        except (NoRespondersError, NatsTimeoutError, msgspec.DecodeError) as exc:
            raise ClassroomUnavailable(f"no producer settings for {class_id!r}: {exc}") from None
        if isinstance(reply, RpcError):
            if reply.code != "class_not_found":
                raise ClassroomUnavailable(f"{reply.code}: {reply.message}")
            found = None
        else:
            found = reply.settings
        if len(self._entries) > _MAX_ENTRIES:  # bounded: forget everything rather than grow
            self._entries.clear()
        self._entries[class_id] = (now + self._ttl_s, found)
        return found

    async def collects_code(self, class_id: str) -> bool:
        """Whether events of the class keep their ``code``: not for an unknown class, nor
        while persistence cannot say (privacy first: the code is dropped)."""
        try:
            found = await self.settings(class_id)
        except ClassroomUnavailable:
            return False
        return found is not None and found.collect_code
