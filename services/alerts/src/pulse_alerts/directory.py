"""What the alerts service asks persistence: the series catalog (does a rule's metric have
data? a preview's latest values) and the classes (does it exist, who owns it, its plan)."""

from __future__ import annotations

import time

import msgspec
from nats.aio.client import Client
from nats.errors import Error as NatsError
from pulse_contracts import CatalogQuery, CatalogReply, Codec, RpcError, SeriesInfo, subjects
from pulse_contracts.classroom import (
    ClassInfo,
    ClassList,
    ClassReply,
    ClassroomReply,
    GetClass,
    ListClasses,
)
from pulse_runtime.replies import IncompleteReply, ask


class Unavailable(Exception):
    """Persistence did not answer (the request is answered ``unavailable``: retry)."""


class Directory:
    def __init__(self, nats: Client, codec: Codec, *, timeout_s: float, catalog_ttl_s: float):
        self._nats = nats
        self._codec = codec
        self._timeout_s = timeout_s
        self._catalog_ttl_s = catalog_ttl_s
        self._catalog: tuple[float, list[SeriesInfo]] | None = None
        self._catalog_reply: msgspec.msgpack.Decoder[CatalogReply] = msgspec.msgpack.Decoder(
            CatalogReply
        )
        self._class_reply: msgspec.msgpack.Decoder[ClassroomReply] = msgspec.msgpack.Decoder(
            ClassroomReply
        )

    async def series(self) -> list[SeriesInfo]:
        """Every stored series with its latest point (kept ``catalog_ttl_s``)."""
        now = time.monotonic()
        if self._catalog is not None and now - self._catalog[0] < self._catalog_ttl_s:
            return self._catalog[1]
        query = CatalogQuery(part_bytes=self._nats.max_payload)
        reply = self._catalog_reply.decode(
            await self._ask(subjects.RPC_QUERY_CATALOG, self._codec.pack(query))
        )
        if isinstance(reply, RpcError):
            raise Unavailable(f"the catalog: {reply.code}")
        self._catalog = (now, reply.series)
        return reply.series

    async def matching(self, metric: str, source: str | None) -> list[SeriesInfo]:
        return [
            info
            for info in await self.series()
            if info.name == metric and (source is None or info.source == source)
        ]

    async def class_info(self, class_id: str) -> ClassInfo | None:
        data = await self._ask(
            subjects.classroom_rpc("get"), self._codec.pack(GetClass(class_id=class_id))
        )
        reply = self._class_reply.decode(data)
        if isinstance(reply, ClassReply):
            return reply.class_
        if isinstance(reply, RpcError) and reply.code == "class_not_found":
            return None
        raise Unavailable(f"the class: {getattr(reply, 'code', type(reply).__name__)}")

    async def classes_of(self, user_id: str, role: str) -> list[str]:
        """The ids of the classes ``user_id`` may see as ``role``."""
        request = ListClasses(viewer_id=user_id, viewer_role=role)
        reply = self._class_reply.decode(
            await self._ask(subjects.classroom_rpc("list"), self._codec.pack(request))
        )
        if not isinstance(reply, ClassList):
            raise Unavailable(f"the classes: {getattr(reply, 'code', type(reply).__name__)}")
        return [info.id for info in reply.classes]

    async def _ask(self, subject: str, payload: bytes) -> bytes:
        try:
            return await ask(self._nats, subject, payload, timeout_s=self._timeout_s)
        except (NatsError, TimeoutError, IncompleteReply) as exc:
            raise Unavailable(f"{subject}: {exc or type(exc).__name__}") from exc
