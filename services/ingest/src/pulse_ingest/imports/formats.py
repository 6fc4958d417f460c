"""The two formats of a bulk import, each turning a chunk of lines into what ingest's validator
takes (:class:`~pulse_ingest.validation.MetricsValidator`, the same path as every point):

- CSV (``text/csv``): a header ``time,source,name,value`` or ``time,source,name,value,unit``,
  then one point per row; each row becomes a point (msgpack, so that a ``nan`` stays a NaN
  for the validator to refuse rather than turning into a JSON null).
- JSON lines (``application/x-ndjson``): one point object per line, as ``POST /api/v1/metrics``
  takes it; the lines of a chunk become one JSON array.

Only what the validator cannot see is checked here: a row's shape (its number of fields), a
value that is no number, a line that is not one JSON value or not UTF-8.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import msgspec
from pulse_contracts import MSGPACK
from pulse_contracts.metrics import AwareDatetime

from .outcomes import HeaderInvalid, RowInvalid, UnsupportedFormat
from .shapes import ImportFormat

CSV = "text/csv"
NDJSON = "application/x-ndjson"
JSON = "application/json"
CSV_COLUMNS = ("time", "source", "name", "value")
CSV_OPTIONAL = ("unit",)
_msgpack = msgspec.msgpack.Encoder()
_raw_json = msgspec.json.Decoder(msgspec.Raw)


class _Timed(msgspec.Struct, frozen=True):
    """A point's time alone (its other fields ignored): to find a row past the age limit."""

    time: AwareDatetime


_times_json = msgspec.json.Decoder(list[_Timed])
_times_msgpack = msgspec.msgpack.Decoder(list[_Timed])


class Chunk:
    """The rows of one chunk as the validator takes them, with each row's line number."""

    def __init__(self, payload: bytes, content_type: str, lines: list[int], rows: list[bytes]):
        self.payload = payload
        self.content_type = content_type
        self.lines = lines
        self._rows = rows

    def one_by_one(self) -> Iterator[tuple[int, bytes]]:
        """Each row alone with its line: to tell which row the validator refused when its
        answer names none (a row it could not take apart)."""
        return zip(self.lines, self._rows, strict=True)

    def times(self) -> list[datetime]:
        """Each row's time (the chunk has passed the validator)."""
        decoder = _times_msgpack if self.content_type == MSGPACK else _times_json
        return [row.time for row in decoder.decode(self.payload)]


class CsvRows:
    """``text/csv``: a header line, then ``time,source,name,value[,unit]`` rows."""

    format: ImportFormat = "csv"
    has_header = True

    def __init__(self) -> None:
        self._columns: tuple[str, ...] = CSV_COLUMNS

    def header(self, line: int, text: bytes) -> list[str]:
        """Check the header line; the columns it names."""
        try:
            decoded = text.decode("utf-8-sig")
            columns = [column.strip().lower() for column in next(csv.reader([decoded]), [])]
        except UnicodeDecodeError:
            raise HeaderInvalid(f"line {line}: the header is not UTF-8 text") from None
        except csv.Error as exc:  # a carriage return inside the line, and the like
            raise HeaderInvalid(f"line {line}: the header is not a CSV row ({exc})") from None
        if tuple(columns) not in (CSV_COLUMNS, CSV_COLUMNS + CSV_OPTIONAL):
            shown = ",".join(columns)[:200]
            raise HeaderInvalid(
                f"line {line}: the header must be time,source,name,value or"
                f" time,source,name,value,unit, not {shown!r}"
            )
        self._columns = tuple(columns)
        return columns

    def chunk(self, lines: list[tuple[int, bytes]]) -> Chunk:
        numbers: list[int] = []
        points: list[dict[str, Any]] = []
        for line, text in lines:
            points.append(self._point(line, text))
            numbers.append(line)
        rows = [_msgpack.encode(point) for point in points]
        return Chunk(_msgpack.encode(points), MSGPACK, numbers, rows)

    def _point(self, line: int, text: bytes) -> dict[str, Any]:
        try:
            decoded = text.decode("utf-8")
            fields = next(csv.reader([decoded]))
        except UnicodeDecodeError:
            raise RowInvalid(line, None, "not UTF-8 text") from None
        except (csv.Error, StopIteration) as exc:
            raise RowInvalid(line, None, f"not a CSV row ({exc})") from None
        if len(fields) != len(self._columns):
            raise RowInvalid(
                line,
                None,
                f"{len(fields)} fields, the header names {len(self._columns)}"
                f" ({','.join(self._columns)})",
            )
        point: dict[str, Any] = dict(zip(self._columns, fields, strict=True))
        try:
            point["value"] = float(point["value"])
        except ValueError:
            shown = point["value"][:40]
            raise RowInvalid(line, "value", f"{shown!r} is not a number") from None
        if not point.get("unit"):
            point.pop("unit", None)
        return point


class JsonLines:
    """``application/x-ndjson``: one point object per line (no header)."""

    format: ImportFormat = "ndjson"
    has_header = False

    def header(self, line: int, text: bytes) -> list[str]:
        raise AssertionError("JSON lines have no header")

    def chunk(self, lines: list[tuple[int, bytes]]) -> Chunk:
        numbers: list[int] = []
        rows: list[bytes] = []
        for line, text in lines:
            try:
                _raw_json.decode(text)  # one JSON value per line, not two, not half of one
            except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
                raise RowInvalid(line, None, f"not one JSON value ({exc})") from None
            numbers.append(line)
            rows.append(text)
        return Chunk(b"[" + b",".join(rows) + b"]", JSON, numbers, rows)


RowFormat = CsvRows | JsonLines


def format_of(content_type: str | None) -> RowFormat:
    """The format a ``Content-Type`` names; :class:`UnsupportedFormat` for any other."""
    media = (content_type or "").partition(";")[0].strip().lower()
    if media == CSV:
        return CsvRows()
    if media == NDJSON:
        return JsonLines()
    raise UnsupportedFormat(
        f"send the file as {CSV} or {NDJSON} (Content-Type), not {media or 'nothing'!r}"
    )
