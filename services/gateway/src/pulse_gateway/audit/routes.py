"""The audit routes, admins only: the access log and task runs searched (newest first, a page
at a time: pass the previous page's ``next_cursor`` as ``cursor``), a trace's whole story, and
the dead-letter queue (list, show, replay after a fix, discard). Persistence answers
(``rpc.audit.*``); a replay goes in the caller's trace, named by their user id."""

from __future__ import annotations

import re
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from pulse_contracts.audit import (
    MAX_PAGE,
    AccessPage,
    DeadLetterPage,
    DeadLettersChanged,
    DeadLetterShown,
    DeadLetterStatus,
    DiscardDeadLetters,
    GetTrace,
    ListDeadLetters,
    ReplayDeadLetters,
    SearchAccess,
    SearchTasks,
    ShowDeadLetter,
    StepStatus,
    TaskPage,
    TraceStory,
)
from pulse_runtime.access_tokens import AccessClaims
from pulse_runtime.tracing import trace_id_of
from pulse_runtime.web import ApiError, current_traceparent, invalid_parameter

from pulse_gateway.edge.refusals import refusals
from pulse_gateway.metrics.parameters import parse_time

from .client import AuditClient
from .schemas import MAX_ID, DeadLetterIds

Admin = Request[AccessClaims, Any, Any]
AUDIT = "/api/v1/admin/audit"
LETTERS = AUDIT + "/dead-letters"
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
TRACE_PATTERN = _TRACE_ID.pattern

Text = Annotated[str | None, QueryParameter(max_length=500)]
Since = Annotated[
    str | None, QueryParameter(description="from this time on (ISO 8601 with an offset)")
]
Until = Annotated[str | None, QueryParameter(description="before this time (ISO 8601)")]
Cursor = Annotated[
    str | None, QueryParameter(max_length=200, description="the previous page's `next_cursor`")
]
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="page size")]
TraceFilter = Annotated[str | None, QueryParameter(pattern=TRACE_PATTERN, description="32 hex")]


def _time(parameter: str, value: str | None) -> Any:
    return None if value is None else parse_time(parameter, value)


@get(
    AUDIT + "/access",
    opt={"access": "admin"},
    summary="Search the access log, newest first",
    description="Every filter given must match. `status`: a code (404) or a class (4 for"
    " 4xx); `path`: a prefix of the concrete path or of the route template; `since`"
    " inclusive, `until` exclusive. `bad_cursor`, `bad_filter` (e.g. `since` not before"
    " `until`) are 400s.",
    responses=refusals(400, 503, 504),
)
async def search_access(
    audit: NamedDependency[AuditClient],
    *,
    since: Since = None,
    until: Until = None,
    status: Annotated[
        int | None, QueryParameter(ge=1, le=599, description="a code, or a class 1-5")
    ] = None,
    method: Annotated[str | None, QueryParameter(max_length=10)] = None,
    path: Annotated[str | None, QueryParameter(max_length=500, description="a prefix")] = None,
    user_id: Text = None,
    ip_address: Text = None,
    trace_id: TraceFilter = None,
    service: Text = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> AccessPage:
    search = SearchAccess(
        since=_time("since", since),
        until=_time("until", until),
        status=status,
        method=method,
        path=path,
        user_id=user_id,
        ip_address=ip_address,
        trace_id=trace_id,
        service=service,
        cursor=cursor,
        limit=limit,
    )
    return await audit.call(search, AccessPage)


@get(
    AUDIT + "/tasks",
    opt={"access": "admin"},
    summary="Task runs, newest first, with their latest status",
    description="A run's `status` is `SUCCESS` or `FAILED` once it ended, else `IN_PROGRESS`;"
    " `error_message` is the last error it recorded.",
    responses=refusals(400, 503, 504),
)
async def search_tasks(
    audit: NamedDependency[AuditClient],
    *,
    since: Since = None,
    until: Until = None,
    task_name: Text = None,
    status: Annotated[StepStatus | None, QueryParameter(description="the run's status")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> TaskPage:
    search = SearchTasks(
        since=_time("since", since),
        until=_time("until", until),
        task_name=task_name,
        status=status,
        cursor=cursor,
        limit=limit,
    )
    return await audit.call(search, TaskPage)


@get(
    AUDIT + "/traces/{trace_id:str}",
    opt={"access": "admin"},
    summary="A trace's whole story: access records, task steps, dead letters, in time order",
    description="At most 2000 items (the earliest; `truncated` then). 404 `trace_not_found`"
    " when nothing is recorded under that trace id (32 hex: the `traceparent` header's"
    " second part).",
    responses=refusals(400, 404, 503, 504),
)
async def show_trace(audit: NamedDependency[AuditClient], trace_id: FromPath[str]) -> TraceStory:
    if _TRACE_ID.fullmatch(trace_id) is None:
        raise invalid_parameter("trace_id", "a trace id is 32 lowercase hex characters")
    return await audit.call(GetTrace(trace_id=trace_id), TraceStory)


@get(
    LETTERS,
    opt={"access": "admin"},
    summary="Dead letters, newest first",
    description="Each with its reason, its size and a `preview`: the first bytes as text,"
    " undecodable bytes and control characters escaped. `origin`: a prefix of the subject.",
    responses=refusals(400, 503, 504),
)
async def list_dead_letters(
    audit: NamedDependency[AuditClient],
    *,
    status: Annotated[DeadLetterStatus | None, QueryParameter(description="its state")] = None,
    origin: Text = None,
    trace_id: TraceFilter = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> DeadLetterPage:
    listing = ListDeadLetters(
        status=status, origin=origin, trace_id=trace_id, cursor=cursor, limit=limit
    )
    return await audit.call(listing, DeadLetterPage)


@get(
    LETTERS + "/{letter_id:int}",
    opt={"access": "admin"},
    summary="One dead letter with its raw bytes (`data`, base64) and headers",
    description="Header values that look like credentials are hidden. 404 `dead_letter_not_found`.",
    responses=refusals(400, 404, 503, 504),
)
async def show_dead_letter(
    audit: NamedDependency[AuditClient], letter_id: FromPath[int]
) -> DeadLetterShown:
    if not 1 <= letter_id <= MAX_ID:
        raise ApiError(404, "dead_letter_not_found", f"no dead letter {letter_id}")
    return await audit.call(ShowDeadLetter(id=letter_id), DeadLetterShown)


@post(
    LETTERS + "/replay",
    opt={"access": "admin"},
    summary="Replay dead letters after a fix: each sent again to where it came from",
    description="Only `pending` letters are sent, each by one request however many run at"
    " once; `skipped` lists the others (already replayed or discarded, unknown, or not sent:"
    " then still pending). The replay is recorded in this request's trace.",
    status_code=200,
    responses=refusals(400, 413, 503, 504),
)
async def replay_dead_letters(
    request: Admin, data: JSONBody[DeadLetterIds], audit: NamedDependency[AuditClient]
) -> DeadLettersChanged:
    replay = ReplayDeadLetters(
        ids=data.ids,
        by=request.user.sub,
        trace_id=trace_id_of(current_traceparent.get(None)),
    )
    return await audit.call(replay, DeadLettersChanged)


@post(
    LETTERS + "/discard",
    opt={"access": "admin"},
    summary="Discard dead letters (pending ones; the others are listed in `skipped`)",
    status_code=200,
    responses=refusals(400, 413, 503, 504),
)
async def discard_dead_letters(
    request: Admin, data: JSONBody[DeadLetterIds], audit: NamedDependency[AuditClient]
) -> DeadLettersChanged:
    discard = DiscardDeadLetters(ids=data.ids, by=request.user.sub)
    return await audit.call(discard, DeadLettersChanged)


ROUTES = [
    search_access,
    search_tasks,
    show_trace,
    list_dead_letters,
    show_dead_letter,
    replay_dead_letters,
    discard_dead_letters,
]
