"""What a bulk import answers: its summary, and where a refused one broke."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

ImportFormat = Literal["csv", "ndjson"]


class ImportSummary(msgspec.Struct, frozen=True, kw_only=True):
    """What an import stored (all of it on success; the chunks before the refusal otherwise)."""

    task_id: str
    """The import's task run: its steps are in the task log (``metrics_import``)."""
    trace_id: str
    """The request's trace: its task steps, its points and its access record share it."""
    format: ImportFormat
    rows: int
    """Rows stored (each a point)."""
    chunks: int
    """Chunks stored, each one task step (``chunk 1``, ``chunk 2`` …)."""
    series: int
    """Distinct series (source and name) among the rows stored."""
    first_time: datetime | None
    """The earliest time among the rows stored (None when none was)."""
    last_time: datetime | None
    """The latest time among the rows stored."""
    bytes: int
    """Bytes of the body read."""


class RowError(msgspec.Struct, frozen=True, kw_only=True):
    """The row that stopped an import: its line in the file (1 is the first), the field at
    fault (None when the line as a whole is), and why."""

    line: int
    field: str | None
    reason: str
