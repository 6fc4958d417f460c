"""Where audit records go: anything with a non-blocking ``record``.

The access-log middleware (``pulse_runtime.web.access_log``) and the task log
(:mod:`.tasks`) hand their records to a :class:`RecordSink`; the process's
:class:`~.recorder.AuditRecorder` is the real one (bounded buffer, batches to LOGS, the spool
while NATS is away). Tests hand them a list.
"""

from __future__ import annotations

import os
from typing import Protocol

from pulse_contracts.audit import LogRecord


class RecordSink(Protocol):
    def record(self, record: LogRecord) -> None:
        """Take ``record`` for storing; never blocks, never raises (a full buffer drops it and
        counts the drop)."""


class RecordList(list[LogRecord]):
    """A :class:`RecordSink` that keeps everything: for tests and for callers that collect."""

    def record(self, record: LogRecord) -> None:
        self.append(record)


def new_key() -> str:
    """A record's unique key (32 hex characters, stored as a ``uuid``): what makes a
    redelivered record stored once. 128 random bits, as a version 4 UUID's 122, at a quarter
    of ``uuid4()``'s cost (one per request)."""
    return os.urandom(16).hex()
