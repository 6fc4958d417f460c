"""Messages that Pulse refused, kept with the reason so nothing is silently lost."""

from __future__ import annotations

from datetime import datetime

import msgspec


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A refused message: its original subject, raw bytes and headers, and why."""

    origin: str
    reason: str
    data: bytes
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    received_at: datetime
    trace_id: str | None = None
