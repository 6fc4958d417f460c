"""Admins' views of the audit trail, answered by persistence over ``rpc.audit.<verb>``:
search the access log, a trace's whole story, and the dead-letter queue (list, show, replay,
discard). The gateway checks the admin role before it asks; persistence trusts the bus.

Pages are newest first with an opaque ``cursor`` (``next_cursor`` of the previous page).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from pulse_contracts.rpc import RpcError
from pulse_contracts.text import STORABLE

from .records import StepStatus

MAX_PAGE = 200
MAX_TRACE_ITEMS = 2000
MAX_IDS = 500
"""At most this many dead letters replayed or discarded by one request."""

Text = Annotated[str, msgspec.Meta(max_length=500), STORABLE]
Cursor = Annotated[str, msgspec.Meta(max_length=200), STORABLE]
TraceId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}$")]
Limit = Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)]
DeadLetterStatus = Literal["pending", "replayed", "discarded"]


class SearchAccess(msgspec.Struct, frozen=True, kw_only=True, tag="access.search"):
    """Access records in ``[since, until)`` matching every filter given. ``status`` is a code
    (404) or a class (4 for 4xx); ``path`` matches the concrete path or the route template
    by prefix."""

    since: datetime | None = None
    until: datetime | None = None
    status: Annotated[int, msgspec.Meta(ge=1, le=599)] | None = None
    method: Annotated[str, msgspec.Meta(max_length=10), STORABLE] | None = None
    path: Text | None = None
    user_id: Text | None = None
    ip_address: Text | None = None
    trace_id: TraceId | None = None
    service: Text | None = None
    cursor: Cursor | None = None
    limit: Limit = 50


class StoredAccess(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    trace_id: str
    service: str
    method: str
    route: str
    path: str
    request_header: dict[str, str]
    request_body: Any
    response_status: int
    response_body: Any
    duration_ms: float
    ip_address: str | None
    user_id: str | None
    created_at: datetime
    frames_in: int | None = None
    frames_out: int | None = None
    close_code: int | None = None


class AccessPage(msgspec.Struct, frozen=True, kw_only=True, tag="access.page"):
    items: list[StoredAccess]
    next_cursor: str | None


class StoredStep(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    trace_id: str
    service: str
    task_id: str
    task_name: str
    step_name: str
    status: StepStatus
    input_data: Any
    output_data: Any
    error_message: str | None
    stack_trace: str | None
    execution_order: int
    created_at: datetime


class SearchTasks(msgspec.Struct, frozen=True, kw_only=True, tag="tasks.search"):
    """Task runs (their first step, ``START``, with the run's last status) in ``[since,
    until)``, by name and outcome."""

    since: datetime | None = None
    until: datetime | None = None
    task_name: Text | None = None
    status: StepStatus | None = None
    cursor: Cursor | None = None
    limit: Limit = 50


class TaskRun(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    task_name: str
    service: str
    trace_id: str
    status: StepStatus
    """The run's latest status: ``SUCCESS``/``FAILED`` when it ended, else ``IN_PROGRESS``."""
    steps: int
    started_at: datetime
    updated_at: datetime
    error_message: str | None = None


class TaskPage(msgspec.Struct, frozen=True, kw_only=True, tag="tasks.page"):
    items: list[TaskRun]
    next_cursor: str | None


class StoredDeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A refused message as kept in ``audit_dead_letters``; ``data`` only in the answer to
    :class:`ShowDeadLetter` (a list carries ``size`` and a short ``preview``)."""

    id: int
    origin: str
    reason: str
    trace_id: str | None
    status: DeadLetterStatus
    received_at: datetime
    size: int
    preview: str
    """The first bytes as text, undecodable bytes and control characters escaped."""
    headers: dict[str, str] = {}
    data: bytes | None = None
    replays: int = 0
    replayed_at: datetime | None = None
    replayed_by: str | None = None
    discarded_at: datetime | None = None
    discarded_by: str | None = None


class ListDeadLetters(msgspec.Struct, frozen=True, kw_only=True, tag="deadletters.list"):
    status: DeadLetterStatus | None = None
    origin: Text | None = None
    trace_id: TraceId | None = None
    cursor: Cursor | None = None
    limit: Limit = 50


class DeadLetterPage(msgspec.Struct, frozen=True, kw_only=True, tag="deadletters.page"):
    items: list[StoredDeadLetter]
    next_cursor: str | None


class ShowDeadLetter(msgspec.Struct, frozen=True, kw_only=True, tag="deadletters.show"):
    id: Annotated[int, msgspec.Meta(ge=1)]


class DeadLetterShown(msgspec.Struct, frozen=True, kw_only=True, tag="deadletters.shown"):
    letter: StoredDeadLetter


Ids = Annotated[
    list[Annotated[int, msgspec.Meta(ge=1)]], msgspec.Meta(min_length=1, max_length=MAX_IDS)
]


class ReplayDeadLetters(msgspec.Struct, frozen=True, kw_only=True, tag="deadletters.replay"):
    """Publish each pending letter's original bytes and headers to its origin subject again
    (after a fix), and mark it ``replayed``; one already replayed or discarded is skipped, so
    two admins replaying at once send it once."""

    ids: Ids
    by: Text
    trace_id: TraceId | None = None


class DiscardDeadLetters(msgspec.Struct, frozen=True, kw_only=True, tag="deadletters.discard"):
    ids: Ids
    by: Text


class DeadLettersChanged(msgspec.Struct, frozen=True, kw_only=True, tag="deadletters.changed"):
    changed: list[int]
    skipped: list[int]
    """Not pending (already replayed or discarded) or not found."""


class GetTrace(msgspec.Struct, frozen=True, kw_only=True, tag="trace.get"):
    trace_id: TraceId


class TraceItem(msgspec.Struct, frozen=True, kw_only=True):
    """One record of a trace: exactly one of ``access``, ``step``, ``dead_letter`` is set."""

    at: datetime
    kind: Literal["access", "step", "dead_letter"]
    access: StoredAccess | None = None
    step: StoredStep | None = None
    dead_letter: StoredDeadLetter | None = None


class TraceStory(msgspec.Struct, frozen=True, kw_only=True, tag="trace.story"):
    trace_id: str
    items: list[TraceItem]
    """In time order; at most :data:`MAX_TRACE_ITEMS` (``truncated`` then)."""
    truncated: bool = False


AuditRequest = (
    SearchAccess
    | SearchTasks
    | ListDeadLetters
    | ShowDeadLetter
    | ReplayDeadLetters
    | DiscardDeadLetters
    | GetTrace
)
AuditReply = (
    AccessPage
    | TaskPage
    | DeadLetterPage
    | DeadLetterShown
    | DeadLettersChanged
    | TraceStory
    | RpcError
)
AUDIT_VERBS: dict[type[msgspec.Struct], str] = {
    SearchAccess: "access",
    SearchTasks: "tasks",
    ListDeadLetters: "deadletters",
    ShowDeadLetter: "deadletters",
    ReplayDeadLetters: "deadletters",
    DiscardDeadLetters: "deadletters",
    GetTrace: "trace",
}
"""The verb (``rpc.audit.<verb>``) each request goes to."""
