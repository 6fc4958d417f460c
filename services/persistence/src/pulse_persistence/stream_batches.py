"""A stream's messages into the database, a batch per transaction, acked only after the commit
(docs/adr/0003, 0005): the one loop the METRICS, EVENTS, LOGS and DEADLETTER consumers share.
What differs per stream — how a message decodes, what makes it unstorable, how a batch is
written — is its :class:`BatchRows`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

import asyncpg
import msgspec
from nats.aio.msg import Msg
from prometheus_client import Counter
from pulse_runtime.database import DATABASE_AWAY
from pulse_runtime.logging import get_logger
from pulse_runtime.tracing import logged_with_trace_of

log = get_logger(__name__)

Batch = TypeVar("Batch")
SetAside = Callable[[Msg, str], Awaitable[None]]
"""Sends a message to DEADLETTER with the reason, and terminates it."""


class BatchRows(Protocol[Batch]):
    """One stream's part: its messages' shape and how they are written."""

    what: str
    """What a message holds, for reasons and logs: ``"series batch"``, ``"class events"``."""

    failures: Counter
    """Batches not written because the database was away (redelivered later)."""

    def decode(self, msg: Msg) -> Batch:
        """The message's content (raises :class:`msgspec.DecodeError`), with what its
        headers tell that the content does not (its trace)."""
        ...

    def refusal(self, batch: Batch) -> str | None:
        """Why a decoded message can never be stored, or None."""
        ...

    async def write(self, batches: list[Batch]) -> None:
        """Write in one transaction (and count what was written); raises what asyncpg raises."""
        ...


class StreamBatches(Generic[Batch]):
    """:meth:`persist` is a pull consumer's batch handler.

    The database being away (or a deadlock) means a delayed redelivery of the whole batch, and
    a pause as long before fetching again. A batch the database refuses is written message by
    message, and only the refused ones are set aside, so one bad message never blocks or drags
    down the others. An undecodable or unstorable message is set aside at once. Each message
    is logged with its own trace id.
    """

    def __init__(
        self,
        rows: BatchRows[Batch],
        *,
        set_aside: SetAside,
        retry_delay_s: float,
        stopping: asyncio.Event,
    ) -> None:
        self._rows = rows
        self._set_aside = set_aside
        self._retry_delay_s = retry_delay_s
        self._stopping = stopping

    async def persist(self, messages: list[Msg]) -> None:
        rows = self._rows
        decoded: list[tuple[Msg, Batch]] = []
        for msg in messages:
            try:
                batch = rows.decode(msg)
            except msgspec.DecodeError as exc:
                await self._set_aside(msg, f"undecodable {rows.what}: {exc}")
                continue
            if reason := rows.refusal(batch):
                await self._set_aside(msg, reason)
                continue
            decoded.append((msg, batch))
        if not decoded:
            return
        try:
            await self._write_and_ack(decoded)
        except (*DATABASE_AWAY, asyncpg.DeadlockDetectedError) as exc:
            rows.failures.inc()
            log.warning(f"{rows.what} not written; redelivered later", error=str(exc))
            for msg, _ in decoded:
                await msg.nak(delay=self._retry_delay_s)
            # Fetching at once would only fail again, once per arriving message: wait as long
            # as the redelivery (or until asked to stop) before the consumer fetches anew.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._retry_delay_s)
        except asyncpg.PostgresError as exc:
            log.warning(f"database refused {rows.what}; isolating the cause", error=str(exc))
            for one in decoded:
                with logged_with_trace_of(one[0].headers):
                    try:
                        await self._write_and_ack([one])
                    except asyncpg.PostgresError as refused:
                        await self._set_aside(one[0], f"refused by the database: {refused}")

    async def _write_and_ack(self, decoded: list[tuple[Msg, Batch]]) -> None:
        await self._rows.write([batch for _, batch in decoded])
        for msg, _ in decoded:
            await msg.ack()
