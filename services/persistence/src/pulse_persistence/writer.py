"""Series batches into the metrics table with binary COPY, idempotently.

The fast path copies straight into ``metrics``: the unique key on (series_id, time) makes the
COPY fail as a whole when any row is already stored, so it never half-writes. Then, and only
then, the batch goes the merge path: COPY into the per-connection staging table and one
``INSERT … ON CONFLICT DO NOTHING``. Redeliveries and repeated points are rare, and the
merge costs two and a half times the direct COPY (docs/adr/0007-direct-copy-first.md).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

import asyncpg
import msgspec
from pulse_contracts import SeriesBatch
from pulse_runtime.database import acquired

_RESOLVE_SERIES = """
INSERT INTO series (source, name, unit, tags)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[])
ON CONFLICT (source, name) DO UPDATE
    SET unit = COALESCE(EXCLUDED.unit, series.unit), tags = EXCLUDED.tags
RETURNING id, source, name
"""

_MERGE_STAGING = """
INSERT INTO metrics (time, series_id, value)
SELECT timestamptz 'epoch' + time_us * interval '1 microsecond', series_id, value
FROM metrics_staging
ON CONFLICT (series_id, time) DO NOTHING
"""


_COLUMNS = ["time", "series_id", "value"]
# PostgreSQL's binary COPY: a signature and two zero words, then per row the field count and
# each field as length + big-endian value (timestamptz: microseconds since 2000-01-01).
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_COPY_ROW = struct.Struct(">hiqiiid")
_POSTGRES_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds


def copy_rows(series_id: int, batch: SeriesBatch) -> bytes:
    pack = _COPY_ROW.pack
    return b"".join(
        [
            pack(3, 8, time_us - _POSTGRES_EPOCH_US, 4, series_id, 8, value)
            for time_us, value in zip(batch.times_us, batch.values, strict=True)
        ]
    )


class MetricsWriter:
    def __init__(self, pool: asyncpg.Pool, on_merge: Callable[[], object] = lambda: None) -> None:
        self._pool = pool
        self._series_ids: dict[tuple[str, str], int] = {}
        self._on_merge = on_merge  # told each time a write met stored rows and was merged

    async def write(self, batches: Sequence[SeriesBatch]) -> int:
        """Store every point atomically; returns how many rows were new."""
        await self._resolve_series(batches)
        ids = [self._series_ids[(batch.source, batch.name)] for batch in batches]
        data = b"".join(
            [
                _COPY_HEADER,
                *(copy_rows(i, b) for i, b in zip(ids, batches, strict=True)),
                _COPY_TRAILER,
            ]
        )
        async with acquired(self._pool) as conn:
            try:
                # In a transaction although COPY is atomic by itself: BEGIN finds a connection
                # that died in the pool the ordinary way, before asyncpg starts a COPY on it
                # (which would leave an unretrieved exception behind in asyncpg).
                async with conn.transaction():
                    await conn.copy_to_table(  # a memoryview: plain bytes would be a file path
                        "metrics", source=memoryview(data), columns=_COLUMNS, format="binary"
                    )
                return sum(len(batch.values) for batch in batches)
            except asyncpg.UniqueViolationError:
                self._on_merge()
            return await self._merge(conn, ids, batches)

    @staticmethod
    async def _merge(
        conn: asyncpg.Connection, ids: list[int], batches: Sequence[SeriesBatch]
    ) -> int:
        records = [
            (series_id, time_us, value)
            for series_id, batch in zip(ids, batches, strict=True)
            for time_us, value in zip(batch.times_us, batch.values, strict=True)
        ]
        async with conn.transaction():
            await conn.copy_records_to_table(
                "metrics_staging", records=records, columns=["series_id", "time_us", "value"]
            )
            status = await conn.execute(_MERGE_STAGING)
        return int(status.rsplit(" ", 1)[-1])

    async def _resolve_series(self, batches: Sequence[SeriesBatch]) -> None:
        missing = {
            (batch.source, batch.name): batch
            for batch in batches
            if (batch.source, batch.name) not in self._series_ids
        }
        if not missing:
            return
        rows = await self._pool.fetch(
            _RESOLVE_SERIES,
            [batch.source for batch in missing.values()],
            [batch.name for batch in missing.values()],
            [batch.unit for batch in missing.values()],
            [msgspec.json.encode(batch.tags).decode() for batch in missing.values()],
        )
        for row in rows:
            self._series_ids[(row["source"], row["name"])] = row["id"]
