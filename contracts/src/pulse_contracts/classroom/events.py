"""Notebook events as producers send them (a student's kernel, the class simulator), and the
validated batches that travel inside Pulse.

Wire names are camelCase (``eventId``, ``notebookPath``), as producers already send them;
Python names are snake_case. Only ``eventId``, ``eventType``, ``eventTime`` and ``userId`` are
required of every event; a ``cell_executed`` event also needs ``notebookPath``, ``cellId`` and
``cellIndex`` (checked by ingest's validation, which names the missing field). Unknown event
types are accepted and stored raw. The schema evolution rules (:mod:`pulse_contracts`) apply.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final

import msgspec

from pulse_contracts.metrics.points import AwareDatetime
from pulse_contracts.text import STORABLE

KNOWN_EVENT_TYPES: Final = frozenset(
    {"cell_executed", "notebook_opened", "notebook_saved", "kernel_restarted"}
)
"""Types the class model understands; any other type matching :data:`EVENT_TYPE_PATTERN` is
stored raw (kept in the event history, not counted in progress)."""

EVENT_TYPE_PATTERN: Final = r"^[a-z][a-z0-9_]{0,63}$"
CLASS_ID_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,62}$"
"""A class id is a slug (it becomes a NATS subject token and a channel name part)."""

MAX_EVENTS_PER_BATCH: Final = 100
MAX_CODE_CHARS: Final = 65_536
MAX_ERROR_MESSAGE_CHARS: Final = 2_000
MAX_METADATA_BYTES: Final = 4_096
"""The JSON encoding of ``metadata`` may not exceed this (checked by ingest's validation)."""

ClassId = Annotated[
    str,
    msgspec.Meta(
        pattern=CLASS_ID_PATTERN,
        description="1-63 characters from a-z, 0-9 and '-', starting with a letter or digit",
    ),
]
EventType = Annotated[
    str,
    msgspec.Meta(
        pattern=EVENT_TYPE_PATTERN,
        description="cell_executed, notebook_opened, notebook_saved, kernel_restarted, or any"
        " other lower_snake_case type (stored raw)",
    ),
]
StudentId = Annotated[str, msgspec.Meta(min_length=1, max_length=200), STORABLE]
NotebookPath = Annotated[str, msgspec.Meta(min_length=1, max_length=1024), STORABLE]
CellId = Annotated[str, msgspec.Meta(min_length=1, max_length=200), STORABLE]
CellType = Annotated[str, msgspec.Meta(min_length=1, max_length=32), STORABLE]
Code = Annotated[str, msgspec.Meta(max_length=MAX_CODE_CHARS), STORABLE]
ErrorName = Annotated[str, msgspec.Meta(max_length=200), STORABLE]
ErrorMessage = Annotated[str, msgspec.Meta(max_length=MAX_ERROR_MESSAGE_CHARS), STORABLE]
CellIndex = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
ExecutionCount = Annotated[int, msgspec.Meta(ge=0)]
DurationMs = Annotated[float, msgspec.Meta(ge=0, le=86_400_000)]
MetadataKey = Annotated[str, msgspec.Meta(max_length=200), STORABLE]
Metadata = Annotated[dict[MetadataKey, Any], msgspec.Meta(max_length=64)]


class NotebookEvent(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """One thing that happened in a student's notebook, as a producer sends it."""

    event_id: uuid.UUID
    """The idempotency key: the same event sent twice (retry, redelivery, HTTP and NATS) is
    stored once."""
    event_type: EventType
    event_time: AwareDatetime
    user_id: StudentId
    """The student, as the producer names them (pseudonymised when the class says so)."""
    class_id: ClassId | None = None
    """Required on NATS (``ingest.events``); over HTTP the API key's class (a different one
    is refused)."""
    notebook_path: NotebookPath | None = None
    cell_id: CellId | None = None
    cell_index: CellIndex | None = None
    cell_type: CellType | None = None
    code: Code | None = None
    """Sent only when the class collects code; ingest drops it otherwise."""
    execution_count: ExecutionCount | None = None
    has_error: bool = False
    error_name: ErrorName | None = None
    error_message: ErrorMessage | None = None
    execution_duration_ms: DurationMs | None = None
    metadata: Metadata = msgspec.field(default_factory=dict)


ProducerEvents = (
    NotebookEvent
    | Annotated[list[NotebookEvent], msgspec.Meta(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]
)
"""What a producer may send: one event, or a batch of 1-100 events."""


class ClassEvents(msgspec.Struct, frozen=True, kw_only=True):
    """Validated events of one class: the payload of ``events.<class_id>`` in the EVENTS
    stream (msgpack). Every event's ``class_id`` equals ``class_id``."""

    class_id: str
    events: list[NotebookEvent]


class EventsAck(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Ingest's answer to a producer that used request/reply on ``ingest.events`` (JSON), as
    :class:`~pulse_contracts.metrics.points.IngestAck` for points."""

    accepted: int = 0
    error: str | None = None
    retryable: bool = False
