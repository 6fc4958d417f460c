"""Notebook events as producers send them (a student's kernel, the class simulator), and the
validated batches that travel inside Pulse.

Wire names are camelCase (``eventId``, ``notebookPath``), as producers already send them;
Python names are snake_case. Only ``eventId``, ``eventType``, ``eventTime`` and ``userId`` are
required of every event; a ``cell_executed`` event also needs ``notebookPath``, ``cellId`` and
``cellIndex`` (checked by ingest's validation, which names the missing field). Unknown event
types are accepted and stored raw. The schema evolution rules (:mod:`pulse_contracts`) apply.

The decoder checks every type, length and bound of :class:`NotebookEvent`; the class id and
event type patterns and the absence of NUL in its text, which are in the schema too, are checked
by :func:`refusal` after decoding instead: as decoder patterns they made decoding an event six
times slower, in ingest and again in persistence and the gateway. Whoever accepts events from
outside Pulse calls :func:`refusal` on each (ingest does).
"""

from __future__ import annotations

import re
import uuid
from functools import lru_cache
from typing import Annotated, Any, Final

import msgspec

from pulse_contracts.metrics.points import AwareDatetime
from pulse_contracts.text import DOCUMENTED_STORABLE, STORABLE

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

_CLASS_ID_DESCRIPTION = "1-63 characters from a-z, 0-9 and '-', starting with a letter or digit"
_EVENT_TYPE_DESCRIPTION = (
    "cell_executed, notebook_opened, notebook_saved, kernel_restarted, or any other"
    " lower_snake_case type (stored raw)"
)
ClassId = Annotated[str, msgspec.Meta(pattern=CLASS_ID_PATTERN, description=_CLASS_ID_DESCRIPTION)]
"""A class id wherever msgspec should check it: requests, replies, settings."""
StudentId = Annotated[str, msgspec.Meta(min_length=1, max_length=200), STORABLE]
NotebookPath = Annotated[str, msgspec.Meta(min_length=1, max_length=1024), STORABLE]

# A notebook event's own field types: the same limits, patterns documented and checked by
# refusal() after decoding (see the module's docstring).
_EventClassId = Annotated[
    str,
    msgspec.Meta(
        max_length=63,  # checked by the decoder: refusal() caches class ids by their text
        extra_json_schema={"pattern": CLASS_ID_PATTERN},
        description=_CLASS_ID_DESCRIPTION,
    ),
]
_EventType = Annotated[
    str,
    msgspec.Meta(
        max_length=64,
        extra_json_schema={"pattern": EVENT_TYPE_PATTERN},
        description=_EVENT_TYPE_DESCRIPTION,
    ),
]
_StudentId = Annotated[str, msgspec.Meta(min_length=1, max_length=200), DOCUMENTED_STORABLE]
_NotebookPath = Annotated[str, msgspec.Meta(min_length=1, max_length=1024), DOCUMENTED_STORABLE]
_CellId = Annotated[str, msgspec.Meta(min_length=1, max_length=200), DOCUMENTED_STORABLE]
_CellType = Annotated[str, msgspec.Meta(min_length=1, max_length=32), DOCUMENTED_STORABLE]
_Code = Annotated[str, msgspec.Meta(max_length=MAX_CODE_CHARS), DOCUMENTED_STORABLE]
_ErrorName = Annotated[str, msgspec.Meta(max_length=200), DOCUMENTED_STORABLE]
_ErrorMessage = Annotated[
    str, msgspec.Meta(max_length=MAX_ERROR_MESSAGE_CHARS), DOCUMENTED_STORABLE
]
_CellIndex = Annotated[int, msgspec.Meta(ge=0, le=100_000)]
_ExecutionCount = Annotated[int, msgspec.Meta(ge=0)]
_DurationMs = Annotated[float, msgspec.Meta(ge=0, le=86_400_000)]
_MetadataKey = Annotated[str, msgspec.Meta(max_length=200), DOCUMENTED_STORABLE]
_Metadata = Annotated[
    dict[_MetadataKey, Any],
    # any JSON value (msgspec says nothing of the values, which generators read as "none")
    msgspec.Meta(max_length=64, extra_json_schema={"additionalProperties": True}),
]


class NotebookEvent(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """One thing that happened in a student's notebook, as a producer sends it."""

    event_id: uuid.UUID
    """The idempotency key: the same event sent twice (retry, redelivery, HTTP and NATS) is
    stored once."""
    event_type: _EventType
    event_time: AwareDatetime
    user_id: _StudentId
    """The student, as the producer names them (pseudonymised when the class says so)."""
    class_id: _EventClassId | None = None
    """Required on NATS (``ingest.events``); over HTTP the API key's class (a different one
    is refused)."""
    notebook_path: _NotebookPath | None = None
    cell_id: _CellId | None = None
    cell_index: _CellIndex | None = None
    cell_type: _CellType | None = None
    code: _Code | None = None
    """Sent only when the class collects code; ingest drops it otherwise."""
    execution_count: _ExecutionCount | None = None
    has_error: bool = False
    error_name: _ErrorName | None = None
    error_message: _ErrorMessage | None = None
    execution_duration_ms: _DurationMs | None = None
    metadata: _Metadata = msgspec.field(default_factory=dict)


NUL_REFUSED: Final = "Expected `str` without NUL (U+0000)"
_EVENT_TYPE = re.compile(EVENT_TYPE_PATTERN)
_CLASS_ID = re.compile(CLASS_ID_PATTERN)
_EVENT_TYPE_REFUSED = f"Expected `str` matching regex {EVENT_TYPE_PATTERN!r}"
_CLASS_ID_REFUSED = f"Expected `str` matching regex {CLASS_ID_PATTERN!r}"


def refusal(event: NotebookEvent, *, may_hold_nul: bool = True) -> tuple[str, str] | None:
    """The first field of a decoded ``event`` the schema refuses and why (msgspec's words), or
    None: what the decoder leaves out (see the module's docstring). ``may_hold_nul=False``
    skips the NUL checks when the caller knows the message holds none (JSON without the
    ``\\u0000`` escape)."""
    if event.event_type not in KNOWN_EVENT_TYPES and not _EVENT_TYPE.fullmatch(event.event_type):
        return "eventType", _EVENT_TYPE_REFUSED
    if event.class_id is not None and not _is_class_id(event.class_id):
        return "classId", _CLASS_ID_REFUSED
    if may_hold_nul:
        return _nul_refusal(event)
    return None


@lru_cache(maxsize=4096)
def _is_class_id(text: str) -> bool:
    """A producer sends the same few class ids all day; a cache hit is cheaper than a match."""
    return _CLASS_ID.fullmatch(text) is not None


def _nul_refusal(event: NotebookEvent) -> tuple[str, str] | None:
    for wire, text in (
        ("userId", event.user_id),
        ("notebookPath", event.notebook_path),
        ("cellId", event.cell_id),
        ("cellType", event.cell_type),
        ("code", event.code),
        ("errorName", event.error_name),
        ("errorMessage", event.error_message),
    ):
        if text is not None and "\x00" in text:
            return wire, NUL_REFUSED
    if any("\x00" in key for key in event.metadata):
        return "metadata", f"{NUL_REFUSED} (in a key)"
    return None


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
