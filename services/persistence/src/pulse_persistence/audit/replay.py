"""Replaying dead letters after a fix: each pending letter's original bytes and headers sent
again to the subject it came from, in the replaying admin's trace.

A replay claims its letters first (``UPDATE … WHERE status = 'pending' RETURNING``, committed
at once): of two replays at once, each letter goes with exactly one, and the other reports it
skipped. Then each is sent; one that could not be sent (no responder, a timeout, a refusal by
JetStream, an origin Pulse does not replay) is put back to ``pending`` and reported skipped.
The replay is a task (``deadletter_replay``) with a step per letter, so its trace shows what
was sent where and what failed.

Where a letter goes back to (:class:`NatsResend`):

- ``ingest.metrics``, ``ingest.events``: a request to ingest, which validates it again (and
  dead-letters it again, as a new letter, if it is still refused); a ``retryable`` answer (the
  store was away) counts as not sent;
- ``metrics.<source>.<name>``, ``events.<class>`` (set aside by persistence): published to
  METRICS or EVENTS, acknowledged by JetStream, with the message id ``deadletter-<id>``, so a
  replay whose acknowledgement was lost and that is tried again is stored once;
- anything else (a LOGS batch: only its own service may publish records) is not replayed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NamedTuple

import asyncpg
import msgspec
from nats.aio.client import Client
from pulse_contracts import IngestAck, subjects
from pulse_contracts.audit import DeadLettersChanged, ReplayDeadLetters
from pulse_runtime.audit import TaskLog
from pulse_runtime.audit.tasks import new_trace_id
from pulse_runtime.database import acquired
from pulse_runtime.logging import get_logger
from pulse_runtime.tracing import TRACEPARENT, trace_id_of

from .access_search import json_value
from .dead_letter_queue import changed_and_skipped, distinct

log = get_logger(__name__)

TASK_NAME = "deadletter_replay"
REPLAY_OF = "Pulse-Replay-Of"
"""Header of a replayed message: the id of the dead letter it is."""
MSG_ID = "Nats-Msg-Id"

_CLAIM = """
UPDATE audit_dead_letters
SET status = 'replayed', replays = replays + 1, replayed_at = now(), replayed_by = $2
WHERE id = any($1::bigint[]) AND status = 'pending'
RETURNING id, origin, data, headers
"""
_UNCLAIM = """
UPDATE audit_dead_letters
SET status = 'pending', replays = replays - 1, replayed_at = NULL, replayed_by = NULL
WHERE id = $1 AND status = 'replayed'
"""


class ClaimedLetter(NamedTuple):
    id: int
    origin: str
    data: bytes
    headers: dict[str, str]


class ReplayFailed(Exception):
    """The letter was not sent (or not confirmed): it goes back to pending."""


Resend = Callable[[ClaimedLetter, dict[str, str]], Awaitable[None]]
"""Sends a claimed letter's bytes with the headers given; raises :class:`ReplayFailed`."""


class DeadLetterReplays:
    def __init__(self, pool: asyncpg.Pool, resend: Resend, tasks: TaskLog) -> None:
        self._pool = pool
        self._resend = resend
        self._tasks = tasks

    async def replay(
        self, request: ReplayDeadLetters, traceparent: str | None = None
    ) -> DeadLettersChanged:
        ids = distinct(request.ids)
        trace_id = request.trace_id or trace_id_of(traceparent) or new_trace_id()
        async with self._tasks.task(
            TASK_NAME, trace_id=trace_id, input_data={"ids": ids, "by": request.by}
        ) as run:
            sent: set[int] = set()
            for letter in await self._claim(ids, request.by):
                try:
                    async with run.step(
                        f"replay {letter.id}",
                        input_data={"origin": letter.origin, "bytes": len(letter.data)},
                    ) as step:
                        await self._resend(letter, replay_headers(letter, run.traceparent))
                        step.output_data = {"sent_to": letter.origin}
                except ReplayFailed as failed:
                    log.warning("dead letter not replayed", id=letter.id, error=str(failed))
                    await self._unclaim(letter.id)
                else:
                    sent.add(letter.id)
            answer = changed_and_skipped(ids, sent)
            run.output_data = {"changed": answer.changed, "skipped": answer.skipped}
        return answer

    async def _claim(self, ids: list[int], by: str) -> list[ClaimedLetter]:
        async with acquired(self._pool) as conn:
            rows = await conn.fetch(_CLAIM, ids, by)
        claimed = [
            ClaimedLetter(row["id"], row["origin"], row["data"], json_value(row["headers"]) or {})
            for row in rows
        ]
        return sorted(claimed, key=lambda letter: letter.id)  # the oldest refusal first

    async def _unclaim(self, letter_id: int) -> None:
        try:
            async with acquired(self._pool) as conn:
                await conn.execute(_UNCLAIM, letter_id)
        except Exception:  # the database away: it stays "replayed" though not sent
            log.exception("dead letter not put back to pending", id=letter_id)


def replay_headers(letter: ClaimedLetter, traceparent: str) -> dict[str, str]:
    """The letter's own headers without the server's (``Nats-*``: its old message id would
    make JetStream drop the replay as a duplicate) and its old trace, in the replay's trace."""
    headers = {
        name: value
        for name, value in letter.headers.items()
        if not name.lower().startswith("nats-") and name.lower() != TRACEPARENT
    }
    headers[TRACEPARENT] = traceparent
    headers[REPLAY_OF] = str(letter.id)
    return headers


def _within(subject: str, pattern: str) -> bool:
    """Whether NATS subject ``subject`` matches ``pattern`` (``*`` one token, ``>`` the rest)."""
    parts, wanted = subject.split("."), pattern.split(".")
    for index, part in enumerate(wanted):
        if part == ">":
            return len(parts) > index
        if index >= len(parts) or part not in ("*", parts[index]):
            return False
    return len(parts) == len(wanted)


class NatsResend:
    """:data:`Resend` over NATS (see the module's doc for where each origin goes)."""

    STREAMS = (
        ("metrics.*.*", subjects.METRICS_STREAM),
        ("events.*", subjects.EVENTS_STREAM),
    )
    INGEST = (subjects.INGEST_METRICS, subjects.INGEST_EVENTS)

    def __init__(self, nats: Callable[[], Client], *, timeout_s: float) -> None:
        self._nats = nats
        self._timeout_s = timeout_s
        self._acks = msgspec.json.Decoder(IngestAck)

    async def __call__(self, letter: ClaimedLetter, headers: dict[str, str]) -> None:
        origin = letter.origin
        try:
            if origin in self.INGEST:
                await self._ask_ingest(letter, headers)
                return
            for pattern, stream in self.STREAMS:
                if _within(origin, pattern):
                    await self._store(letter, headers, stream)
                    return
        except ReplayFailed:
            raise
        except Exception as exc:
            raise ReplayFailed(f"{type(exc).__name__}: {exc}") from exc
        raise ReplayFailed(f"{origin!r} is not a subject dead letters are replayed to")

    async def _ask_ingest(self, letter: ClaimedLetter, headers: dict[str, str]) -> None:
        reply = await self._nats().request(
            letter.origin, letter.data, timeout=self._timeout_s, headers=headers
        )
        try:
            ack = self._acks.decode(reply.data)
        except msgspec.DecodeError as exc:
            raise ReplayFailed(f"ingest's answer was not an acknowledgement: {exc}") from None
        if ack.retryable:
            raise ReplayFailed(f"ingest did not store it: {ack.error}")
        # A refusal (ack.error) was sent all the same: ingest made it a new dead letter.

    async def _store(self, letter: ClaimedLetter, headers: dict[str, str], stream: str) -> None:
        js = self._nats().jetstream(timeout=self._timeout_s)
        await js.publish(
            letter.origin,
            letter.data,
            stream=stream,
            headers={**headers, MSG_ID: f"deadletter-{letter.id}"},
        )
