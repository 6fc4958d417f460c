"""A bulk import of historical points: the body read as it arrives, a chunk of rows at a time
validated by ingest's own validator, published to METRICS like live points but marked
``imported`` (history: the gateway's live channels and the alert rules leave them out), and
recorded as a task run (``metrics_import``) whose steps a user can watch on the Logs page:

- ``parse``: the format, and for CSV its header;
- ``chunk N``: its lines, rows, series and time range, ``SUCCESS`` once JetStream stored it,
  ``FAILED`` with the reason when a row of it is refused (nothing of that chunk is stored,
  every chunk before it is);
- the run's final step: ``SUCCESS`` with the summary, or ``FAILED`` with the reason.

Importing the same file again stores each point once: a chunk's messages carry ids made of the
digest of the file up to the chunk's end, the chunk's number and the part's (JetStream drops
repeats within its duplicate window; the database's unique key on (series, time) after it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import msgspec
from prometheus_client import Counter
from pulse_contracts import SeriesBatch, from_epoch_us, to_epoch_us
from pulse_runtime.audit import TaskLog, TaskRun, TaskStepRun
from pulse_runtime.logging import get_logger

from pulse_ingest.storing import NotStored
from pulse_ingest.validation import InvalidMetrics, MetricsValidator

from .formats import Chunk, RowFormat, format_of
from .lines import BodyLines
from .outcomes import ImportEmpty, ImportRefused, ImportTooLarge, RowInvalid
from .shapes import ImportSummary

log = get_logger(__name__)

TASK_NAME = "metrics_import"

PublishPart = Callable[[SeriesBatch, str, str], Awaitable[None]]
"""``(batch, message id, traceparent)``: one part of a chunk into METRICS, returning once
JetStream stored it."""


class ImportLimits:
    def __init__(self, *, max_bytes: int, max_age_days: int, chunk_rows: int) -> None:
        self.max_bytes = max_bytes
        self.max_age = timedelta(days=max_age_days)
        self.max_age_days = max_age_days
        self.chunk_rows = chunk_rows


class ImportCounters:
    """``pulse_ingest_imports_total{outcome}`` and ``pulse_ingest_import_rows_total{outcome}``:
    outcome ``stored``, ``refused`` (a 4xx; for rows, those of the chunk that was refused) or
    ``not_stored`` (JetStream did not confirm)."""

    def __init__(self, imports: Counter, rows: Counter) -> None:
        self.imports = imports
        self.rows = rows


class _Progress:
    """What an import stored so far."""

    def __init__(self, run: TaskRun, row_format: RowFormat, body: BodyLines) -> None:
        self.run = run
        self.format = row_format
        self.body = body
        self.rows = 0
        self.chunks = 0
        self.series: set[tuple[str, str]] = set()
        self.first_us: int | None = None
        self.last_us: int | None = None

    def stored(self, batches: list[SeriesBatch], rows: int) -> tuple[int, int]:
        first = min(min(batch.times_us) for batch in batches)
        last = max(max(batch.times_us) for batch in batches)
        self.rows += rows
        self.chunks += 1
        self.series.update((batch.source, batch.name) for batch in batches)
        self.first_us = first if self.first_us is None else min(first, self.first_us)
        self.last_us = last if self.last_us is None else max(last, self.last_us)
        return first, last

    def summary(self) -> ImportSummary:
        return ImportSummary(
            task_id=self.run.task_id,
            trace_id=self.run.trace_id,
            format=self.format.format,
            rows=self.rows,
            chunks=self.chunks,
            series=len(self.series),
            first_time=None if self.first_us is None else from_epoch_us(self.first_us),
            last_time=None if self.last_us is None else from_epoch_us(self.last_us),
            bytes=self.body.bytes_read,
        )


class MetricsImport:
    """Runs bulk imports (one per request, several at once)."""

    def __init__(
        self,
        *,
        validator: MetricsValidator,
        publish: PublishPart,
        tasks: TaskLog,
        limits: ImportLimits,
        counters: ImportCounters,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._validator = validator
        self._publish = publish
        self._tasks = tasks
        self.limits = limits
        self._counters = counters
        self._clock = clock

    async def run(
        self,
        body: AsyncIterator[bytes],
        content_type: str | None,
        declared_bytes: int | None,
        traceparent: str,
    ) -> ImportSummary:
        """Import ``body``; its summary. Raises :class:`~.outcomes.ImportRefused` (with what
        was stored before, once the task started) or :class:`NotStored`."""
        try:
            row_format = format_of(content_type)
            if declared_bytes is not None and declared_bytes > self.limits.max_bytes:
                raise ImportTooLarge(
                    f"the body is {declared_bytes} bytes, over {self.limits.max_bytes}"
                    " (PULSE_INGEST_IMPORT_MAX_BYTES): split the file"
                )
        except ImportRefused:
            self._counters.imports.labels("refused").inc()
            raise
        lines = BodyLines(body, max_bytes=self.limits.max_bytes)
        input_data = {"format": row_format.format, "declared_bytes": declared_bytes}
        async with self._tasks.task(TASK_NAME, input_data=input_data) as run:
            progress = _Progress(run, row_format, lines)
            try:
                await self._import(progress, traceparent)
            except ImportRefused as refused:
                refused.summary = progress.summary()
                run.output_data = refused.summary
                self._counters.imports.labels("refused").inc()
                raise
            except NotStored:
                run.output_data = progress.summary()
                self._counters.imports.labels("not_stored").inc()
                raise
            summary = progress.summary()
            run.output_data = summary
        self._counters.imports.labels("stored").inc()
        log.info(
            "metrics imported",
            rows=summary.rows,
            chunks=summary.chunks,
            series=summary.series,
            bytes=summary.bytes,
            task_id=summary.task_id,
        )
        return summary

    async def _import(self, progress: _Progress, traceparent: str) -> None:
        row_format, body, run = progress.format, progress.body, progress.run
        async with run.step("parse", input_data={"format": row_format.format}) as step:
            columns: list[str] | None = None
            if row_format.has_header:
                first = await body.take(1)
                if not first:
                    raise ImportEmpty("the body is empty: send a header and at least one row")
                columns = row_format.header(*first[0])
            step.output_data = {"format": row_format.format, "columns": columns}
        number = 0
        while lines := await body.take(self.limits.chunk_rows):
            number += 1
            input_data = {"rows": len(lines), "first_line": lines[0][0], "last_line": lines[-1][0]}
            async with run.step(f"chunk {number}", input_data=input_data) as step:
                await self._chunk(progress, step, number, lines, traceparent)
        if number == 0:
            raise ImportEmpty("the body holds no rows: send at least one point")

    async def _chunk(
        self,
        progress: _Progress,
        step: TaskStepRun,
        number: int,
        lines: list[tuple[int, bytes]],
        traceparent: str,
    ) -> None:
        try:
            chunk = progress.format.chunk(lines)
            batches = self._validated(chunk)
        except RowInvalid:
            self._counters.rows.labels("refused").inc(len(lines))
            raise
        digest = progress.body.digest()
        results = await asyncio.gather(
            *(
                self._publish(
                    msgspec.structs.replace(batch, imported=True),
                    f"import-{digest}-{number}-{part}",
                    traceparent,
                )
                for part, batch in enumerate(batches)
            ),
            return_exceptions=True,
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        for failure in failures:
            if not isinstance(failure, Exception):  # a cancellation: not ours to answer
                raise failure
        if failures:
            self._counters.rows.labels("not_stored").inc(len(lines))
            raise NotStored(
                f"chunk {number} not stored: JetStream did not confirm it"
                f" ({type(failures[0]).__name__}); import the same file again"
            ) from failures[0]
        first, last = progress.stored(batches, len(lines))
        self._counters.rows.labels("stored").inc(len(lines))
        step.output_data = {
            "rows": len(lines),
            "series": len({(batch.source, batch.name) for batch in batches}),
            "first_time": from_epoch_us(first),
            "last_time": from_epoch_us(last),
            "rows_imported": progress.rows,
        }

    def _validated(self, chunk: Chunk) -> list[SeriesBatch]:
        """The chunk through ingest's validator, then the age limit; :class:`RowInvalid` for
        the first row refused."""
        now = self._clock()
        try:
            batches = self._validator.validate(chunk.payload, chunk.content_type, now)
        except InvalidMetrics as refused:
            raise self._first_refused(chunk, refused, now) from None
        oldest_us = to_epoch_us(now - self.limits.max_age)
        if min(min(batch.times_us) for batch in batches) < oldest_us:
            for line, time in zip(chunk.lines, chunk.times(), strict=True):
                if to_epoch_us(time) < oldest_us:
                    raise RowInvalid(
                        line,
                        "time",
                        f"{time.isoformat()} is more than {self.limits.max_age_days} days old"
                        " (PULSE_INGEST_IMPORT_MAX_AGE_DAYS)",
                    )
        return batches

    def _first_refused(self, chunk: Chunk, refused: InvalidMetrics, now: datetime) -> RowInvalid:
        """The first row the validator refused, by its line."""
        if refused.errors:
            first = refused.errors[0]
            return RowInvalid(chunk.lines[first.index], first.field, first.reason)
        # No row named (one it could not take apart): each row alone, until one is refused.
        for line, row in chunk.one_by_one():
            try:
                self._validator.validate(row, chunk.content_type, now)
            except InvalidMetrics as alone:
                if alone.errors:
                    return RowInvalid(line, alone.errors[0].field, alone.errors[0].reason)
                return RowInvalid(line, None, str(alone))
        return RowInvalid(chunk.lines[0], None, str(refused))
