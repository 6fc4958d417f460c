"""What the audit trail keeps: one :class:`AccessRecord` per HTTP request (and per WebSocket
session, at its close) on the gateway and on ingest, and one :class:`TaskStep` per step of a
multi-step task (a bulk import, a retention run, a dead-letter decision). Both carry the
W3C trace id of the request or message that caused them, so a trace's whole story is one
query (docs/audit.md).

Records are made by ``pulse_runtime.audit`` (bounded buffer, batches, a local spool when NATS
is away) and published as :class:`LogBatch` messages on ``logs.<kind>.<service>`` in the LOGS
stream; persistence stores them, each once (``key``), in the ``audit_access`` and
``audit_task_steps`` tables (hypertables with retention on TimescaleDB).

Bodies and task data are JSON values as stored (``jsonb``): already redacted, bounded, and
with text that was not JSON, too big or binary replaced by a marker object (see
:data:`BODY_MARKERS`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

StepStatus = Literal["START", "IN_PROGRESS", "SUCCESS", "FAILED"]
STEP_STATUSES: tuple[StepStatus, ...] = ("START", "IN_PROGRESS", "SUCCESS", "FAILED")

BODY_MARKERS = ("$truncated", "$binary", "$text")
"""A stored body that is not the JSON sent is an object with one of these keys:
``{"$truncated": {"bytes": n, "preview": "…"}}`` (bigger than the limit: its first part as
text), ``{"$binary": {"bytes": n, "content_type": "…"}}`` (not UTF-8 text), ``{"$text":
"…"}`` (UTF-8 text that is not JSON, within the limit)."""


class AccessRecord(msgspec.Struct, frozen=True, kw_only=True, tag="access"):
    """One HTTP request answered by the gateway or ingest, or one WebSocket session (``method``
    ``"WS"``, recorded at its close with ``frames_in``, ``frames_out`` and ``close_code``)."""

    key: str
    """32 hex characters, unique per record: a batch delivered twice is stored once."""
    trace_id: str
    service: str
    method: str
    route: str
    """The route template (``/api/v1/admin/users/{user_id}``); ``""`` when no route matched."""
    path: str
    """The concrete path, with its query string (secret parameters redacted)."""
    request_header: dict[str, str]
    request_body: Any = None
    response_status: int
    response_body: Any = None
    duration_ms: float
    ip_address: str | None = None
    user_id: str | None = None
    created_at: datetime
    frames_in: int | None = None
    frames_out: int | None = None
    close_code: int | None = None


class TaskStep(msgspec.Struct, frozen=True, kw_only=True, tag="step"):
    """One step of one run of a task. A run (``task_id``) begins with a ``START`` step named
    ``task_name`` and ends with a ``SUCCESS`` or ``FAILED`` one; each step in between is
    recorded as ``IN_PROGRESS`` when it begins (if long) and ``SUCCESS``/``FAILED`` when it ends.
    ``execution_order`` counts 1, 2, … within the run."""

    key: str
    trace_id: str
    service: str
    task_id: str
    task_name: str
    step_name: str
    status: StepStatus
    input_data: Any = None
    output_data: Any = None
    error_message: str | None = None
    stack_trace: str | None = None
    execution_order: int
    created_at: datetime


LogRecord = AccessRecord | TaskStep


class LogBatch(msgspec.Struct, frozen=True, kw_only=True):
    """What one LOGS message carries: a process's records, oldest first."""

    records: list[LogRecord]
