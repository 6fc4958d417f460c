"""The events, in the wire shape Pulse takes (camelCase JSON, as
``pulse_contracts.classroom.NotebookEvent``): built in the cell's thread, so only cheap work
here (a uuid, a clock reading, a few dict entries)."""

from __future__ import annotations

import platform
import uuid
from datetime import datetime, timezone
from typing import Any

from . import __version__

MAX_CODE_CHARS = 65_536
MAX_ERROR_MESSAGE_CHARS = 2_000
MAX_ERROR_NAME_CHARS = 200


def now_utc() -> str:
    """The current time, ISO 8601 with its UTC offset (Pulse refuses naive times)."""
    return datetime.now(timezone.utc).isoformat()


def producer_metadata(frontend: str) -> dict[str, Any]:
    """Small, constant facts about the producer: a few keys, far under Pulse's 4 KiB."""
    return {
        "producer": f"pulse-notebook/{__version__}",
        "python": platform.python_version(),
        "frontend": frontend,
    }


def notebook_event(
    event_type: str,
    *,
    student: str,
    notebook_path: str,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """An event about the notebook itself (``notebook_opened``, ``kernel_restarted``)."""
    return {
        "eventId": str(uuid.uuid4()),
        "eventType": event_type,
        "eventTime": now_utc(),
        "userId": student,
        "notebookPath": notebook_path,
        "metadata": metadata,
    }


def cell_executed(
    *,
    student: str,
    notebook_path: str,
    cell_id: str,
    cell_index: int | None,
    code: str | None,
    execution_count: int | None,
    error: BaseException | None,
    duration_ms: float,
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """One run of a code cell. ``cell_index`` None: the background thread resolves it (from
    the saved notebook) before the event is buffered."""
    event: dict[str, Any] = {
        "eventId": str(uuid.uuid4()),
        "eventType": "cell_executed",
        "eventTime": now_utc(),
        "userId": student,
        "notebookPath": notebook_path,
        "cellId": cell_id,
        "cellIndex": cell_index,
        "cellType": "code",
        "hasError": error is not None,
        "executionDurationMs": round(max(duration_ms, 0.0), 3),
        "metadata": metadata,
    }
    if code is not None:
        event["code"] = code[:MAX_CODE_CHARS]
    if execution_count is not None and execution_count >= 0:
        event["executionCount"] = execution_count
    if error is not None:
        event["errorName"] = type(error).__name__[:MAX_ERROR_NAME_CHARS]
        event["errorMessage"] = _message(error)[:MAX_ERROR_MESSAGE_CHARS]
    return event


def _message(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:  # a broken __str__ must not break the notebook
        return repr(type(error))
