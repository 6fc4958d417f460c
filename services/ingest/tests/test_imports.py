"""Bulk imports without servers: the body's lines (bounds, digest), the CSV and JSON-lines
formats, and the importer's chunks, task steps and refusals (JetStream stands in as a list:
the real one is in tests/e2e/test_imports.py)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pulse_contracts import Codec, SeriesBatch, from_epoch_us
from pulse_contracts.audit import TaskStep
from pulse_ingest.imports.formats import CsvRows, JsonLines, format_of
from pulse_ingest.imports.importer import ImportCounters, ImportLimits, MetricsImport
from pulse_ingest.imports.lines import MAX_LINE_BYTES, BodyLines
from pulse_ingest.imports.outcomes import (
    HeaderInvalid,
    ImportEmpty,
    ImportTooLarge,
    RowInvalid,
    UnsupportedFormat,
)
from pulse_ingest.storing import NotStored
from pulse_ingest.validation import MetricsValidator
from pulse_runtime.audit import RecordList, TaskLog
from pulse_runtime.telemetry import counter

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
TRACEPARENT = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"


async def pieces(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    yield b""  # as Litestar's stream ends


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def csv_body(rows: Iterable[tuple[str, str, str, object]], unit: bool = False) -> bytes:
    header = "time,source,name,value" + (",unit" if unit else "")
    lines = [header, *(",".join(map(str, row)) + (",%" if unit else "") for row in rows)]
    return ("\n".join(lines) + "\n").encode()


def at(minutes: int) -> str:
    return (NOW - timedelta(minutes=minutes)).isoformat()


# --- lines --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
async def test_lines_are_numbered_and_blank_ones_skipped_however_the_bytes_arrive(
    size: int,
) -> None:
    data = b"a\r\nbb\n\n  \nccc\nlast"
    lines = BodyLines(pieces(*split(data, size)), max_bytes=100)
    assert await lines.take(2) == [(1, b"a"), (2, b"bb")]
    assert await lines.take(10) == [(5, b"ccc"), (6, b"last")]
    assert await lines.take(10) == []
    assert lines.bytes_read == len(data)


async def test_the_digest_depends_on_the_lines_read_not_on_how_they_arrived() -> None:
    data = b"one\ntwo\nthree\n"
    first, second = (BodyLines(pieces(*split(data, n)), max_bytes=100) for n in (1, 5))
    await first.take(2)
    await second.take(2)
    assert first.digest() == second.digest()
    await second.take(1)
    assert first.digest() != second.digest()


@pytest.mark.parametrize("size", [1, 4, 40])
async def test_a_body_over_the_limit_is_refused_after_the_whole_lines_within_it(
    size: int,
) -> None:
    lines = BodyLines(pieces(*split(b"a\n" * 10 + b"b\n" * 10, size)), max_bytes=25)
    assert len(await lines.take(10)) == 10
    with pytest.raises(ImportTooLarge, match="over 25 bytes"):
        await lines.take(10)
    lines = BodyLines(pieces(*split(b"a\n" * 10 + b"b\n" * 10, size)), max_bytes=25)
    assert [line for _, line in await lines.take(12)] == [b"a"] * 10 + [b"b"] * 2


async def test_a_line_longer_than_a_row_can_be_is_refused_with_its_number() -> None:
    lines = BodyLines(pieces(b"ok\n", b"x" * (MAX_LINE_BYTES + 1)), max_bytes=1 << 20)
    with pytest.raises(RowInvalid) as refused:
        await lines.take(10)
    assert refused.value.row.line == 2


# --- formats --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/csv", CsvRows),
        ("text/csv; charset=utf-8", CsvRows),
        ("application/x-ndjson", JsonLines),
    ],
)
def test_the_content_type_names_the_format(content_type: str, expected: type[Any]) -> None:
    assert isinstance(format_of(content_type), expected)


@pytest.mark.parametrize("content_type", [None, "", "application/json", "text/plain", "csv"])
def test_any_other_content_type_is_refused(content_type: str | None) -> None:
    with pytest.raises(UnsupportedFormat):
        format_of(content_type)


@pytest.mark.parametrize(
    "header", [b"time,source,name,value", b"\xef\xbb\xbfTime, Source,name,VALUE,unit"]
)
def test_a_csv_header_names_the_columns(header: bytes) -> None:
    assert CsvRows().header(1, header)[:4] == ["time", "source", "name", "value"]


@pytest.mark.parametrize(
    "header",
    [
        b"time,source,value",
        b"a,b,c,d",
        b"\xff\xfe",
        b"time;source",
        # Found by the API conformance run: csv's own error was a 500.
        "c\xf2\xb8V(\xf1{\xe6k\xf8\r\xbb".encode(),
    ],
)
def test_another_csv_header_is_refused(header: bytes) -> None:
    with pytest.raises(HeaderInvalid, match="line 1"):
        CsvRows().header(1, header)


def test_csv_rows_become_points_for_the_validator() -> None:
    rows = CsvRows()
    rows.header(1, b"time,source,name,value,unit")
    chunk = rows.chunk(
        [(2, b'2026-11-22T10:00:00Z,a,cpu," 1.5",%'), (4, b"2026-11-22T10:01:00Z,a,cpu,2,%")]
    )
    validator = MetricsValidator(Codec(), max_future_skew_s=60, max_points=10)
    (batch,) = validator.validate(chunk.payload, chunk.content_type, NOW)
    assert (batch.values, batch.unit) == ([1.5, 2.0], "%")
    assert chunk.lines == [2, 4]
    assert [t.minute for t in chunk.times()] == [0, 1]


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        (b"2026-11-22T10:00:00Z,a,cpu", None, "3 fields, the header names 4"),
        (b"2026-11-22T10:00:00Z,a,cpu,1,2", None, "5 fields, the header names 4"),
        (b"2026-11-22T10:00:00Z,a,cpu,high", "value", "'high' is not a number"),
        (b"2026-11-22T10:00:00Z,a,cpu,", "value", "'' is not a number"),
        (b"\xff\xfe\x00garbage", None, "not UTF-8 text"),
    ],
)
def test_a_csv_row_that_is_no_point_names_its_line(
    line: bytes, field: str | None, reason: str
) -> None:
    rows = CsvRows()
    rows.header(1, b"time,source,name,value")
    with pytest.raises(RowInvalid) as refused:
        rows.chunk([(2, b"2026-11-22T10:00:00Z,a,cpu,1"), (3, line)])
    assert refused.value.row.line == 3
    assert refused.value.row.field == field
    assert refused.value.row.reason.startswith(reason)


@pytest.mark.parametrize(
    "line", [b'{"time": 1},{"time": 2}', b'{"time": ', b"\x00\x01\x02", b"[" * 5000]
)
def test_a_json_line_that_is_not_one_value_names_its_line(line: bytes) -> None:
    with pytest.raises(RowInvalid) as refused:
        JsonLines().chunk([(1, b'{"a": 1}'), (7, line)])
    assert (refused.value.row.line, refused.value.row.field) == (7, None)
    assert refused.value.row.reason.startswith("not one JSON value")


# --- the importer ---------------------------------------------------------------------------


class Stored:
    """JetStream as the importer sees it: each message id kept once (its duplicate window)."""

    def __init__(self, fail_from: int | None = None) -> None:
        self.messages: dict[str, SeriesBatch] = {}
        self.published = 0
        self.fail_from = fail_from

    async def publish(self, batch: SeriesBatch, msg_id: str, traceparent: str) -> None:
        assert traceparent == TRACEPARENT
        self.published += 1
        if self.fail_from is not None and self.published >= self.fail_from:
            raise TimeoutError("no acknowledgement")
        self.messages.setdefault(msg_id, batch)

    def points(self) -> list[tuple[str, str, datetime, float]]:
        return sorted(
            (batch.source, batch.name, from_epoch_us(time), value)
            for batch in self.messages.values()
            for time, value in zip(batch.times_us, batch.values, strict=True)
        )


def importer(stored: Stored, records: RecordList, *, chunk_rows: int = 3) -> MetricsImport:
    registry = CollectorRegistry()
    return MetricsImport(
        validator=MetricsValidator(Codec(), max_future_skew_s=60, max_points=chunk_rows),
        publish=stored.publish,
        tasks=TaskLog(records, service="ingest"),
        limits=ImportLimits(max_bytes=1 << 20, max_age_days=30, chunk_rows=chunk_rows),
        counters=ImportCounters(
            counter(registry, "imports_total", "-", ("outcome",)),
            counter(registry, "rows_total", "-", ("outcome",)),
        ),
        clock=lambda: NOW,
    )


def steps(records: RecordList) -> list[tuple[str, str]]:
    return [(r.step_name, r.status) for r in records if isinstance(r, TaskStep)]


async def test_a_csv_import_is_stored_a_chunk_at_a_time_and_each_chunk_is_a_step() -> None:
    stored, records = Stored(), RecordList()
    rows = [(at(m), "boiler", "temp" if m % 2 else "pressure", m) for m in range(7, 0, -1)]
    summary = await importer(stored, records).run(
        pieces(csv_body(rows)), "text/csv", None, TRACEPARENT
    )
    assert (summary.rows, summary.chunks, summary.series) == (7, 3, 2)
    assert (summary.first_time, summary.last_time) == (
        NOW - timedelta(minutes=7),
        NOW - timedelta(minutes=1),
    )
    assert len(stored.points()) == 7
    # History: stored, but neither sent live nor evaluated by alert rules.
    assert all(batch.imported for batch in stored.messages.values())
    assert steps(records) == [
        ("metrics_import", "START"),
        ("parse", "SUCCESS"),
        ("chunk 1", "SUCCESS"),
        ("chunk 2", "SUCCESS"),
        ("chunk 3", "SUCCESS"),
        ("metrics_import", "SUCCESS"),
    ]
    chunk_1 = next(r for r in records if isinstance(r, TaskStep) and r.step_name == "chunk 1")
    assert chunk_1.input_data == {"rows": 3, "first_line": 2, "last_line": 4}
    assert chunk_1.output_data["first_time"] == "2026-11-22T11:53:00Z"
    assert chunk_1.output_data["last_time"] == "2026-11-22T11:55:00Z"
    assert {r.trace_id for r in records} == {summary.trace_id}
    assert {r.task_id for r in records if isinstance(r, TaskStep)} == {summary.task_id}


async def test_the_same_file_imported_again_publishes_the_same_message_ids() -> None:
    stored = Stored()
    body = csv_body([(at(m), "a", "cpu", m) for m in range(10, 0, -1)])
    for size in (len(body), 5):  # the same file, its bytes arriving differently
        await importer(stored, RecordList()).run(
            pieces(*split(body, size)), "text/csv", None, TRACEPARENT
        )
    assert stored.published == 8  # 4 chunks, twice
    assert len(stored.messages) == 4
    assert len(stored.points()) == 10


async def test_a_bad_row_in_the_middle_stores_the_chunks_before_and_fails_its_chunk() -> None:
    stored, records = Stored(), RecordList()
    lines = [
        json.dumps({"time": at(m), "source": "a", "name": "cpu", "value": m})
        for m in range(10, 0, -1)
    ]
    lines[7] = json.dumps({"time": at(3), "source": "a", "name": "cpu", "value": "hot"})
    body = ("\n".join(lines) + "\n").encode()
    with pytest.raises(RowInvalid) as refused:
        await importer(stored, records).run(
            pieces(body), "application/x-ndjson", len(body), TRACEPARENT
        )
    row = refused.value.row
    assert (row.line, row.field, row.reason) == (8, "value", "Expected `float`, got `str`")
    assert str(refused.value) == "line 8: value Expected `float`, got `str`"
    assert len(stored.points()) == 6  # chunks 1 and 2
    summary = refused.value.summary
    assert summary is not None
    assert (summary.rows, summary.chunks) == (6, 2)
    assert steps(records) == [
        ("metrics_import", "START"),
        ("parse", "SUCCESS"),
        ("chunk 1", "SUCCESS"),
        ("chunk 2", "SUCCESS"),
        ("chunk 3", "FAILED"),
        ("metrics_import", "FAILED"),
    ]
    failed = [r for r in records if isinstance(r, TaskStep) and r.status == "FAILED"]
    assert failed[0].error_message == "RowInvalid: line 8: value Expected `float`, got `str`"
    assert failed[0].input_data == {"rows": 3, "first_line": 7, "last_line": 9}


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ((at(0), "a b", "cpu", 1), "source", "Expected `str` matching regex"),
        (
            ((NOW + timedelta(hours=1)).isoformat(), "a", "cpu", 1),
            "time",
            "is more than 60 s in the future",
        ),
        (
            ((NOW - timedelta(days=31)).isoformat(), "a", "cpu", 1),
            "time",
            "is more than 30 days old",
        ),
        (("yesterday", "a", "cpu", 1), "time", "Invalid RFC3339"),
        (("2026-11-22T10:00:00", "a", "cpu", 1), "time", "Expected `datetime` with a timezone"),
        ((at(0), "a", "cpu", "nan"), "value", "must be a finite number"),
        ((at(0), "a", "cpu\x00", 1), "name", "Expected `str` matching regex"),
    ],
)
async def test_a_row_is_checked_by_ingests_validation_and_the_age_limit(
    row: tuple[str, str, str, object], field: str, reason: str
) -> None:
    stored = Stored()
    body = csv_body([(at(5), "a", "cpu", 1), (at(4), "a", "cpu", 2), row])
    with pytest.raises(RowInvalid) as refused:
        await importer(stored, RecordList(), chunk_rows=10).run(
            pieces(body), "text/csv", None, TRACEPARENT
        )
    assert (refused.value.row.line, refused.value.row.field) == (4, field)
    assert reason in refused.value.row.reason
    assert stored.points() == []


@pytest.mark.parametrize(
    ("body", "content_type", "refusal"),
    [
        (b"", "text/csv", ImportEmpty),
        (b"time,source,name,value\n\n", "text/csv", ImportEmpty),
        (b"\n \n", "application/x-ndjson", ImportEmpty),
        (b"time,value\n1,2\n", "text/csv", HeaderInvalid),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "text/csv", HeaderInvalid),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "application/x-ndjson", RowInvalid),
    ],
)
async def test_an_empty_or_garbage_body_is_refused_and_the_task_fails(
    body: bytes, content_type: str, refusal: type[Exception]
) -> None:
    records = RecordList()
    with pytest.raises(refusal):
        await importer(Stored(), records).run(pieces(body), content_type, None, TRACEPARENT)
    assert steps(records)[-1] == ("metrics_import", "FAILED")


async def test_a_refusal_before_reading_starts_no_task() -> None:
    records = RecordList()
    run = importer(Stored(), records)
    with pytest.raises(UnsupportedFormat):
        await run.run(pieces(b"{}"), "application/json", None, TRACEPARENT)
    with pytest.raises(ImportTooLarge, match="is 2000000 bytes"):
        await run.run(pieces(b"{}"), "text/csv", 2_000_000, TRACEPARENT)
    assert records == []


async def test_a_chunk_jetstream_did_not_confirm_fails_the_import_as_not_stored() -> None:
    stored, records = Stored(fail_from=2), RecordList()
    body = csv_body([(at(m), "a", "cpu", m) for m in range(6, 0, -1)])
    with pytest.raises(NotStored, match="chunk 2 not stored"):
        await importer(stored, records).run(pieces(body), "text/csv", None, TRACEPARENT)
    assert steps(records)[-2:] == [("chunk 2", "FAILED"), ("metrics_import", "FAILED")]
    await asyncio.sleep(0)


def hostile_bodies() -> Iterable[bytes]:
    """Deterministic garbage: random bytes, random text with CSV and JSON punctuation, and
    valid rows with one byte flipped."""
    rng = random.Random(16)
    good = csv_body([(at(m), "a", "cpu", m) for m in range(5, 0, -1)])
    alphabet = b'time,source,name,value\n\r"{}[]:\\\x00\xff\xc3 0123456789.-eE+ZT'
    for _ in range(150):
        yield bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
        yield bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 300)))
        flipped = bytearray(good)
        flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        yield bytes(flipped)


@pytest.mark.parametrize("content_type", ["text/csv", "application/x-ndjson"])
async def test_whatever_the_bytes_an_import_is_stored_or_refused_never_crashes(
    content_type: str,
) -> None:
    for body in hostile_bodies():
        records = RecordList()
        outcome = "SUCCESS"
        try:
            await importer(Stored(), records).run(pieces(body), content_type, None, TRACEPARENT)
        except (RowInvalid, HeaderInvalid, ImportEmpty):
            outcome = "FAILED"
        assert steps(records)[-1] == ("metrics_import", outcome), body
