"""The DEADLETTER stream into ``audit_dead_letters``, where admins list, show, replay and
discard them (docs/audit.md). Each letter is stored once: its key is the BLAKE2b-128 of the
message as sent, so a redelivery adds nothing.

A dead letter is never set aside again (that would loop through DEADLETTER): one that does not
decode is stored as it came with the reason ``undecodable dead letter``; one the database
refuses is stored in that minimal form with the database's reason; only if even that fails is
it left in the stream (logged), for its max age.
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime
from typing import NamedTuple

import asyncpg
import msgspec
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry
from pulse_contracts import DeadLetter, decode_untrusted
from pulse_runtime.database import acquired
from pulse_runtime.logging import get_logger
from pulse_runtime.telemetry import counter, histogram
from pulse_runtime.tracing import TRACEPARENT, trace_id_of

from .record_writer import json_text, text

log = get_logger(__name__)

UNDECODABLE = "undecodable dead letter"
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")

_INSERT = """
INSERT INTO audit_dead_letters (key, origin, reason, data, headers, trace_id, received_at)
SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::bytea[], $5::jsonb[],
                     $6::text[], $7::timestamptz[])
ON CONFLICT (key) DO NOTHING
"""


class StoredLetter(NamedTuple):
    key: bytes
    origin: str
    reason: str
    data: bytes
    headers: dict[str, str]
    trace_id: str | None
    received_at: datetime


def letter_key(data: bytes) -> bytes:
    """A dead letter's identity: the BLAKE2b-128 of the DEADLETTER message's bytes."""
    return hashlib.blake2b(data, digest_size=16).digest()


class DeadLetterBatches:
    """:class:`~pulse_persistence.stream_batches.BatchRows` of DEADLETTER: decoding never
    fails (an undecodable letter is kept as it came) and nothing is refused."""

    what = "dead letter"

    def __init__(self, pool: asyncpg.Pool, registry: CollectorRegistry) -> None:
        self._pool = pool
        self._decoder = msgspec.msgpack.Decoder(DeadLetter)
        self._stored = counter(
            registry,
            "pulse_persistence_dead_letters_stored_total",
            "Dead letters stored for the first time (repeats are not counted)",
        )
        self._undecodable = counter(
            registry,
            "pulse_persistence_dead_letters_undecodable_total",
            "Dead letters that were not a DeadLetter message, stored as they came",
        )
        self._write_seconds = histogram(
            registry,
            "pulse_persistence_dead_letters_write_seconds",
            "Write time per batch of dead letters",
        )
        self.failures = counter(
            registry,
            "pulse_persistence_dead_letters_write_failures_total",
            "Batches of dead letters nacked for retry (the database away)",
        )

    def decode(self, msg: Msg) -> StoredLetter:
        headers = dict(msg.headers or {})
        try:
            letter = decode_untrusted(self._decoder, msg.data)
        except msgspec.DecodeError:
            self._undecodable.inc()
            return undecodable(msg)
        trace_id = (
            (letter.trace_id if _TRACE_ID.match(letter.trace_id or "") else None)
            or trace_id_of(letter.headers.get(TRACEPARENT))
            or trace_id_of(headers.get(TRACEPARENT))
        )
        return StoredLetter(
            key=letter_key(msg.data),
            origin=letter.origin,
            reason=letter.reason,
            data=letter.data,
            headers=letter.headers,
            trace_id=trace_id,
            received_at=letter.received_at,
        )

    def refusal(self, batch: StoredLetter) -> str | None:
        return None

    async def write(self, batches: list[StoredLetter]) -> None:
        started = time.perf_counter()
        new = await store_letters(self._pool, batches)
        self._write_seconds.observe(time.perf_counter() - started)
        self._stored.inc(new)

    async def store_refused(self, msg: Msg, reason: str) -> None:
        """The ``set_aside`` of DEADLETTER: keep the message as it came with ``reason``, and
        terminate it either way (never back to DEADLETTER)."""
        letter = undecodable(msg)._replace(reason=reason)
        try:
            await store_letters(self._pool, [letter])
        except Exception:
            log.exception("dead letter not stored; it stays in DEADLETTER", subject=msg.subject)
        await msg.term()


def undecodable(msg: Msg) -> StoredLetter:
    headers = dict(msg.headers or {})
    return StoredLetter(
        key=letter_key(msg.data),
        origin=msg.subject,
        reason=UNDECODABLE,
        data=msg.data,
        headers=headers,
        trace_id=trace_id_of(headers.get(TRACEPARENT)),
        received_at=datetime.now(UTC),
    )


async def store_letters(pool: asyncpg.Pool, letters: list[StoredLetter]) -> int:
    """Insert ``letters`` in one transaction; returns how many were new."""
    async with acquired(pool) as conn, conn.transaction():
        status = await conn.execute(
            _INSERT,
            [letter.key for letter in letters],
            [text(letter.origin) for letter in letters],
            [text(letter.reason) for letter in letters],
            [letter.data for letter in letters],
            [json_text(letter.headers) for letter in letters],
            [letter.trace_id for letter in letters],
            [letter.received_at for letter in letters],
        )
    return int(status.rsplit(" ", 1)[-1])
