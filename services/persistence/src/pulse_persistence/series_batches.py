"""The METRICS stream's part of :class:`~pulse_persistence.stream_batches.StreamBatches`: a
message is a :class:`SeriesBatch`, written by :class:`MetricsWriter` into the points table."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry
from pulse_contracts import Codec, SeriesBatch, decode_untrusted, to_epoch_us
from pulse_runtime.logging import get_logger
from pulse_runtime.telemetry import counter, histogram

from .backfill import RollupRefresher
from .writer import MetricsWriter

log = get_logger(__name__)

# Times every reader can turn back into a datetime. PostgreSQL would store later ones (to the
# year 294276), but then no query over that series could be answered.
_FIRST_TIME_US = to_epoch_us(datetime(1, 1, 1, tzinfo=UTC))
_LAST_TIME_US = to_epoch_us(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))


class SeriesBatches:
    what = "series batch"

    def __init__(
        self,
        codec: Codec,
        writer: MetricsWriter,
        registry: CollectorRegistry,
        refresher: RollupRefresher | None = None,
    ) -> None:
        self._decoder = codec.series_batch
        self._writer = writer
        self._refresher = refresher
        self._rows = counter(registry, "pulse_persistence_rows_written_total", "New rows")
        self._points = counter(
            registry, "pulse_persistence_points_received_total", "Points consumed"
        )
        self._write_seconds = histogram(
            registry, "pulse_persistence_batch_write_seconds", "Write time per batch"
        )
        self.failures = counter(
            registry, "pulse_persistence_write_failures_total", "Batches nacked for retry"
        )

    def decode(self, msg: Msg) -> SeriesBatch:
        return decode_untrusted(self._decoder, msg.data)

    def refusal(self, batch: SeriesBatch) -> str | None:
        if len(batch.times_us) != len(batch.values):
            return "series batch has unequal times_us and values"
        if batch.times_us and not (
            min(batch.times_us) >= _FIRST_TIME_US and max(batch.times_us) <= _LAST_TIME_US
        ):
            return "series batch has times outside years 1 to 9999"
        return None

    async def write(self, batches: list[SeriesBatch]) -> None:
        started = time.perf_counter()
        rows = await self._writer.write(batches)
        self._write_seconds.observe(time.perf_counter() - started)
        if self._refresher is not None:
            self._refresher.note(batches)
        points = sum(len(batch.values) for batch in batches)
        self._points.inc(points)
        self._rows.inc(rows)
        log.debug("batch persisted", messages=len(batches), points=points, new_rows=rows)
