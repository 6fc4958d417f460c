"""The outbox publisher: every committed inbox change reaches the NOTIFICATIONS stream once,
in each user's order, whatever crashes or restarts.

A pass, in one transaction: take the lock, read the oldest rows (id order), publish them to
JetStream on ``notifications.<user_id>`` with ``Nats-Msg-Id: notify-<id>``, delete the ones
acknowledged, commit. The publisher runs after every commit that wrote rows (woken by
:meth:`OutboxPublisher.wake`) and every ``outbox_poll_s`` whatever happens, for rows another
replica committed or a crashed process left behind.

Why it is exactly once:
- A change and its outbox row commit together (:mod:`pulse_notifier.inbox.store`), so no change
  is lost before publishing, and a row is deleted only after JetStream acknowledged it.
- A crash (or a lost connection) between the ack and the commit leaves acked rows behind; the
  next pass publishes them again with the same ``Nats-Msg-Id`` and JetStream drops them as
  duplicates, within the stream's duplicate window (``PULSE_STREAM_DUPLICATE_WINDOW_S``, 2
  minutes): a notifier down longer than that with acked rows left behind could publish one of
  them twice, and a device then ignores the second copy by its ``version``, which it has seen.
- NATS away: the publish fails or times out, nothing is deleted, the rows wait; the pass is
  retried with a growing delay (up to 5 s) until NATS answers.

Why each user's order holds:
- A user's changes take their counter row first and write outbox rows after, so of two changes
  of one user the later one gets the higher outbox id and commits after the earlier one: when
  a pass sees a row of a user, every earlier row of that user is committed and in the pass too
  (or was published before).
- Only one process publishes at a time: a pass holds a transaction-scoped advisory lock
  (``pg_try_advisory_xact_lock``), and a replica that does not get it leaves the pass to the
  one that has it (and tries again shortly). ``FOR UPDATE SKIP LOCKED`` batches would let two
  replicas publish two batches at once, and a user's row in the second batch could overtake
  their row in the first; partitioning rows by user between replicas would avoid that but
  needs the replicas to agree on who they are. One publisher sends thousands of messages a
  second (the acks of a wave are awaited together), far more than users create.
- Within a pass, rows go out in waves: a wave holds at most one row per user, and the next
  wave starts once every ack of this one is in. Rows of different users are in flight
  together; a user's next row is sent only after the previous one was acknowledged, so a
  failed publish is never overtaken by a later row of the same user. A wave with a failure
  ends the pass: what was acknowledged is deleted, the rest goes again next pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Awaitable, Callable, Sequence

import asyncpg
from pulse_runtime.database import DATABASE_AWAY, acquired
from pulse_runtime.logging import get_logger

from .store import OutboxRow, delete, oldest

log = get_logger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"
_LOCK = zlib.crc32(b"pulse-notifier-outbox") & 0x7FFFFFFF
"""An advisory lock in the two-int key space (namespace, 0), apart from the migrations'."""
_BUSY_RETRY_S = 0.05
_MAX_BACKOFF_S = 5.0

Publish = Callable[[str, bytes, dict[str, str]], Awaitable[object]]
"""Publish to JetStream and wait for the ack: raises when it is not acknowledged."""


def message_id(row_id: int) -> str:
    return f"notify-{row_id}"


def waves(rows: Sequence[OutboxRow]) -> list[list[OutboxRow]]:
    """``rows`` (in id order) split so that each wave has at most one row per subject, and a
    subject's rows are in successive waves in id order."""
    result: list[list[OutboxRow]] = []
    seen: dict[str, int] = {}
    for row in rows:
        index = seen.get(row.subject, 0)
        seen[row.subject] = index + 1
        if index == len(result):
            result.append([])
        result[index].append(row)
    return result


async def publish_in_waves(rows: Sequence[OutboxRow], publish: Publish) -> tuple[list[int], bool]:
    """Publish ``rows`` wave by wave; the ids acknowledged, and whether every one was."""
    acked: list[int] = []
    for wave in waves(rows):
        results = await asyncio.gather(
            *(
                publish(row.subject, row.payload, {MSG_ID_HEADER: message_id(row.id)})
                for row in wave
            ),
            return_exceptions=True,
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        acked.extend(
            row.id
            for row, result in zip(wave, results, strict=True)
            if not isinstance(result, BaseException)
        )
        if failures:
            log.warning(
                "outbox publish failed; the rows wait for the next pass",
                failed=len(failures),
                error=str(failures[0]) or type(failures[0]).__name__,
            )
            return acked, False
    return acked, True


class OutboxPublisher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publish: Publish,
        *,
        batch: int,
        poll_s: float,
        published: Callable[[int], None] = lambda _: None,
    ) -> None:
        self._pool = pool
        self._publish = publish
        self._batch = batch
        self._poll_s = poll_s
        self._published = published
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows: publish them now."""
        self._woken.set()

    async def run(self, stopping: asyncio.Event) -> None:
        """Pass after pass until ``stopping``; then one last pass, so that what was committed
        before the stop is published (what is not stays for the next start)."""
        delay = 0.0
        while not stopping.is_set():
            if delay:
                await _sleep_unless(stopping, delay)
            else:
                await self._wait_for_work(stopping)
            delay = await self._drain(delay)
        with contextlib.suppress(Exception):
            await self._drain(0.0)

    async def _wait_for_work(self, stopping: asyncio.Event) -> None:
        woken = asyncio.ensure_future(self._woken.wait())
        stop = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait({woken, stop}, timeout=self._poll_s, return_when="FIRST_COMPLETED")
        finally:
            woken.cancel()
            stop.cancel()
        self._woken.clear()

    async def _drain(self, delay: float) -> float:
        """Passes until the outbox is empty (or another replica has the lock); the delay
        before the next try: 0 when done, growing while NATS or the database is away."""
        try:
            while True:
                outcome = await self.publish_pass()
                if outcome is None:  # another replica is publishing: look again shortly
                    return _BUSY_RETRY_S
                published, complete = outcome
                if not complete:
                    return min(max(delay * 2, 0.2), _MAX_BACKOFF_S)
                if published < self._batch:
                    return 0.0
        except DATABASE_AWAY as exc:
            log.warning("outbox: database unavailable", error=str(exc))
            return min(max(delay * 2, 0.2), _MAX_BACKOFF_S)

    async def publish_pass(self) -> tuple[int, bool] | None:
        """One pass; None when another process holds the lock, else how many rows were
        published and whether all of those read were."""
        async with acquired(self._pool) as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1, 0)", _LOCK):
                return None
            rows = await oldest(conn, self._batch)
            if not rows:
                return 0, True
            acked, complete = await publish_in_waves(rows, self._publish)
            if acked:
                await delete(conn, acked)
        if acked:
            self._published(len(acked))
        return len(acked), complete


async def _sleep_unless(stopping: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), delay)
