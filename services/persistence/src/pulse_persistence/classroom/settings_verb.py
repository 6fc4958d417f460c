"""``rpc.classroom.producer_settings``: what a producer of a class must know before it sends
(asked by ingest for ``GET /api/v1/events/settings`` and to drop ``code`` a class does not
collect). The salt is told only to a class that pseudonymises."""

from __future__ import annotations

import asyncpg
import msgspec
from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from pulse_contracts import Codec, RpcError, decode_untrusted, subjects
from pulse_contracts.classroom import (
    CLASSROOM_VERBS,
    GetProducerSettings,
    ProducerSettings,
    ProducerSettingsReply,
)
from pulse_runtime.database import answered
from pulse_runtime.messaging import RawMessage, skip_decoding

SUBJECT = subjects.classroom_rpc(CLASSROOM_VERBS[GetProducerSettings])

_SETTINGS = "SELECT collect_code, pseudonymise, salt FROM classes WHERE id = $1"


async def producer_settings(
    pool: asyncpg.Pool, request: GetProducerSettings
) -> ProducerSettingsReply | RpcError:
    row = await pool.fetchrow(_SETTINGS, request.class_id)
    if row is None:
        return RpcError(code="class_not_found", message=f"no class {request.class_id!r}")
    return ProducerSettingsReply(
        settings=ProducerSettings(
            class_id=request.class_id,
            collect_code=row["collect_code"],
            pseudonymise=row["pseudonymise"],
            salt=row["salt"] if row["pseudonymise"] else None,
        )
    )


class ProducerSettingsVerb:
    """The responder; :attr:`pool` is set once the database is open (before NATS)."""

    def __init__(self, codec: Codec) -> None:
        self._codec = codec
        self._decoder = msgspec.msgpack.Decoder(GetProducerSettings)
        self.pool: asyncpg.Pool | None = None

    def router(self) -> NatsRouter:
        router = NatsRouter()

        @router.subscriber(
            SUBJECT,
            queue=subjects.PERSISTENCE_QUEUE,
            decoder=skip_decoding,
            no_reply=True,
            title=SUBJECT,
        )
        async def answer_producer_settings(message: RawMessage) -> None:
            await self.answer(message.raw_message)

        return router

    async def answer(self, msg: Msg) -> None:
        if not msg.reply:
            return
        reply: ProducerSettingsReply | RpcError
        try:
            request = decode_untrusted(self._decoder, msg.data)
        except msgspec.DecodeError as exc:
            reply = RpcError(code="bad_request", message=str(exc))
        else:
            pool = self.pool
            assert pool is not None
            reply = await answered(
                lambda: producer_settings(pool, request), failed="producer settings failed"
            )
        await msg.respond(self._codec.pack(reply))
