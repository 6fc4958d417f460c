"""Messages that Pulse refused, kept with the reason so nothing is silently lost: any domain's
refusals go to the DEADLETTER stream, on ``deadletter.<origin>``.

``DeadLetter`` is not tagged: its version lives in its subject (docs/contracts.md, "Versions").
"""

from __future__ import annotations

from datetime import datetime

import msgspec

DEADLETTER_STREAM = "DEADLETTER"
DEADLETTER_SUBJECTS = "deadletter.>"


def deadletter_subject(origin: str) -> str:
    """Where a refused message from ``origin`` (e.g. ``ingest.metrics``) is kept."""
    return f"deadletter.{origin.replace('.', '_')}"


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A refused message: its original subject, raw bytes and headers, and why."""

    origin: str
    reason: str
    data: bytes
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    received_at: datetime
    trace_id: str | None = None
