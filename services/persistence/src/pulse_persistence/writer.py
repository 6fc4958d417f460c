"""Series batches into the metrics table: binary COPY into staging, then one idempotent INSERT."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import msgspec
from pulse_contracts import SeriesBatch

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


class MetricsWriter:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._series_ids: dict[tuple[str, str], int] = {}

    async def write(self, batches: Sequence[SeriesBatch]) -> int:
        """Store every point in one transaction; returns how many rows were new."""
        await self._resolve_series(batches)
        records = [
            (series_id, time_us, value)
            for batch in batches
            for series_id in (self._series_ids[(batch.source, batch.name)],)
            for time_us, value in zip(batch.times_us, batch.values, strict=True)
        ]
        async with self._pool.acquire() as conn, conn.transaction():
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
