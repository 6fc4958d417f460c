"""Backfill reaches the rollups: their buckets are refreshed after old points were written.

A continuous aggregate answers from what it materialised below its watermark and from the raw
rows above it. Its refresh policy only covers a recent window (``policies.REFRESH``), so a
point older than the window's end, written after the policy passed its bucket, would never be
materialised, and bucketed answers would miss it although the raw rows have it.

TimescaleDB records such writes in its invalidation log, in the same transaction as the rows.
After a commit that wrote a point older than a rollup's ``end`` offset, the rollup is refreshed
from the beginning of time to that offset: only the invalidated buckets are recomputed (a
refresh with nothing to do takes about a millisecond). Writes within ``delay_s`` share one
refresh. At start a refresh runs too, so invalidations left by a crash between a commit and its
refresh (or by another replica that stopped) are materialised then: the log is durable, this
process's memory need not be.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import asyncpg
from pulse_contracts import SeriesBatch, to_epoch_us
from pulse_runtime.database import DATABASE_AWAY, acquired
from pulse_runtime.logging import get_logger

from .policies import RefreshPolicy

log = get_logger(__name__)

_REFRESH = "CALL refresh_continuous_aggregate($1::regclass, NULL, $2::timestamptz)"


class RollupRefresher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        policies: Mapping[str, RefreshPolicy],
        *,
        delay_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_refresh: Callable[[str, float], object] = lambda rollup, seconds: None,
    ) -> None:
        self._pool = pool
        self._policies = dict(policies)
        self._delay_s = delay_s
        self._clock = clock
        self._on_refresh = on_refresh  # told each rollup refreshed and how long it took
        # The most recent of the policies' end offsets: a point older than this may lie below
        # a rollup's watermark. Newer points are read from the raw rows by real-time
        # aggregation until the policy materialises them.
        self._newest_end = min(policy.end for policy in self._policies.values())
        self._pending = asyncio.Event()
        self._pending.set()  # the catch-up at start
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def note(self, batches: Sequence[SeriesBatch]) -> bool:
        """After a commit: True (and a refresh is owed) if it wrote a point that a rollup may
        not have seen."""
        horizon_us = to_epoch_us(self._clock() - self._newest_end)
        if not any(batch.times_us and min(batch.times_us) < horizon_us for batch in batches):
            return False
        self._idle.clear()
        self._pending.set()
        return True

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="rollup-refresher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def settled(self) -> None:
        """Wait until every noted write has been refreshed (for tests and shutdown)."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            await self._pending.wait()
            await asyncio.sleep(self._delay_s)  # writes meanwhile share this refresh
            self._pending.clear()
            try:
                await self.refresh()
            except (asyncpg.PostgresError, *DATABASE_AWAY) as exc:
                log.warning("rollups not refreshed; retrying", error=str(exc))
                self._pending.set()
                continue
            except Exception:  # a bug: logged, and the refresh is tried again
                log.exception("rollups not refreshed; retrying")
                self._pending.set()
                continue
            if not self._pending.is_set():
                self._idle.set()

    async def refresh(self) -> None:
        """Materialise every invalidated bucket of every rollup up to its policy's end."""
        now = self._clock()
        async with acquired(self._pool) as conn:
            for rollup, policy in self._policies.items():
                started = asyncio.get_running_loop().time()
                await conn.execute(_REFRESH, rollup, now - policy.end)
                self._on_refresh(rollup, asyncio.get_running_loop().time() - started)
