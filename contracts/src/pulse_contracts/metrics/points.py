"""Metric points as producers send them, and the validated batches that travel inside Pulse.

The schema evolution rules (:mod:`pulse_contracts`) apply. None of these messages is tagged:
their version lives in their subject (docs/contracts.md, "Versions").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec

from pulse_contracts.text import STORABLE

SERIES_TOKEN_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"  # noqa: S105 - a "TOKEN" of a subject, not a secret
"""Sources and metric names: each becomes a NATS subject token, so no dots or wildcards."""

SeriesToken = Annotated[
    str,
    msgspec.Meta(
        pattern=SERIES_TOKEN_PATTERN,
        description="1-64 characters from A-Z, a-z, 0-9, '_' and '-' (it becomes a subject token)",
    ),
]
AwareDatetime = Annotated[
    datetime, msgspec.Meta(tz=True, description="RFC 3339 time with a UTC offset")
]
# Both are stored as they are (text and jsonb): no NUL, which PostgreSQL refuses.
Unit = Annotated[str, msgspec.Meta(max_length=32), STORABLE]
TagText = Annotated[str, STORABLE]
Tags = Annotated[dict[TagText, TagText], msgspec.Meta(max_length=32)]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)


class MetricPoint(msgspec.Struct, frozen=True, kw_only=True):
    """One measurement of one series, as a producer publishes it on ``ingest.metrics``."""

    time: AwareDatetime
    source: SeriesToken
    name: SeriesToken
    value: float
    unit: Unit | None = None
    tags: Tags = msgspec.field(default_factory=dict)


ProducerMetrics = MetricPoint | Annotated[list[MetricPoint], msgspec.Meta(min_length=1)]
"""What a producer may send: one point, or a batch as an array of at least one point."""


class SeriesBatch(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """Validated points of one series, columnar; the payload of ``metrics.<source>.<name>``.

    ``times_us`` are microseconds since the Unix epoch, UTC; ``values[i]`` belongs to
    ``times_us[i]``. ``imported``: points of a bulk import (history), stored like any others
    but neither sent to live subscribers nor evaluated by alert rules. Added last, with a
    default, so that messages without it (stored before) read as live points and a reader that
    predates it ignores it (msgspec's array-like structs).
    """

    source: str
    name: str
    times_us: list[int]
    values: list[float]
    unit: str | None = None
    tags: dict[str, str] = msgspec.field(default_factory=dict)
    imported: bool = False


def to_epoch_us(moment: datetime) -> int:
    """Exact microseconds since the Unix epoch (no float rounding)."""
    return (moment - EPOCH) // _ONE_MICROSECOND


def from_epoch_us(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class IngestAck(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Ingest's answer to a producer that used request/reply on ``ingest.metrics`` (JSON).

    Sent after JetStream stored the points (``accepted``), or with the reason they were
    refused (``error``). A valid message that could not be stored (JetStream away or too slow
    to confirm) gets ``error`` with ``retryable`` true: nothing is promised, send it again.
    """

    accepted: int = 0
    error: str | None = None
    retryable: bool = False
    """With ``error``: the message was valid but not stored; the same message may succeed later
    (a refusal, false, will not)."""
