"""The classroom REST routes: classes and their producer keys, and the class views.

Access: any signed-in account may list the classes it sees and read one (``account``); only
instructors and admins create and change classes and read the class-wide views
(``instructor``), and then only for the classes they own (admins: all); a student reads
their own timeline. :mod:`.visibility` decides, per class.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, TypeVar

from litestar import Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED
from pulse_contracts.accounts import (
    ApiKeyCreated,
    ApiKeyReply,
    AuthReply,
    AuthRequest,
    CreateApiKey,
    RevokeApiKey,
)
from pulse_contracts.classroom import (
    ClassFeed,
    ClassHotspots,
    ClassInfo,
    ClassOverview,
    ClassProgress,
    ClassReply,
    CreateClass,
    FeedQuery,
    HotspotsQuery,
    OverviewQuery,
    ProgressQuery,
    StudentTimeline,
    TimelineQuery,
    UpdateClass,
)
from pulse_contracts.classroom.events import CLASS_ID_PATTERN
from pulse_contracts.classroom.queries import MAX_TIMELINE_EVENTS
from pulse_runtime.access_tokens import AccessClaims
from pulse_runtime.auth_client import AuthClient, AuthRefused, AuthUnavailable
from pulse_runtime.web import ApiError, current_traceparent, invalid_parameter

from pulse_gateway.edge.refusals import refusals
from pulse_gateway.metrics.parameters import parse_time

from .client import ClassroomClient
from .schemas import (
    ClassChange,
    ClassesOut,
    ClassKey,
    ClassOut,
    CreatedClass,
    FeedOut,
    HotspotsOut,
    NewClass,
    OverviewOut,
    ProgressOut,
    TimelineOut,
)
from .visibility import (
    class_not_found,
    managed_class,
    timeline_allowed,
    visible_class,
    visible_classes,
)

ReplyT = TypeVar("ReplyT", bound=AuthReply)
Caller = Request[AccessClaims, Any, Any]
_CLASS_ID = re.compile(CLASS_ID_PATTERN)
_MAX_STUDENT_ID = 200
_NO_STORE = {"Cache-Control": "no-store"}
CLASS = "/api/v1/classes/{class_id:str}"

Notebook = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=1024,
        description="the notebook's path; default: the class's most active notebook",
    ),
]
From = Annotated[
    str | None,
    QueryParameter(name="from", description="start, ISO 8601 with timezone", format="date-time"),
]
To = Annotated[
    str | None, QueryParameter(description="end, ISO 8601 with timezone", format="date-time")
]


def class_id_of(value: str) -> str:
    """No class has an id that is not a slug: such a path names no class."""
    if _CLASS_ID.fullmatch(value) is None:
        raise class_not_found(value)
    return value


def time_range(from_: str | None, to: str | None) -> tuple[datetime | None, datetime | None]:
    start = parse_time("from", from_) if from_ is not None else None
    end = parse_time("to", to) if to is not None else None
    if start is not None and end is not None and end <= start:
        raise invalid_parameter("to", "must be later than 'from'")
    return start, end


async def relay(auth: AuthClient, request: AuthRequest, expect: type[ReplyT]) -> ReplyT:
    try:
        return await auth.call(request, expect, current_traceparent.get(None))
    except AuthRefused as refused:
        raise ApiError(503, refused.error.code, refused.error.message) from None
    except AuthUnavailable:
        raise ApiError(503, "auth_unavailable", "the auth service is not answering") from None


async def new_key(auth: AuthClient, claims: AccessClaims, class_id: str) -> ApiKeyCreated:
    """A producer key for the class: scope ``ingest:events``, naming the class."""
    request = CreateApiKey(
        name=f"class {class_id}",
        scopes=["ingest:events"],
        created_by=claims.sub,
        class_id=class_id,
    )
    return await relay(auth, request, ApiKeyCreated)


async def keyed(classroom: ClassroomClient, class_id: str, key: ApiKeyCreated) -> ClassInfo:
    change = UpdateClass(class_id=class_id, api_key_id=key.api_key.id)
    return (await classroom.call(change, ClassReply)).class_


@get(
    "/api/v1/classes",
    opt={"access": "account"},
    summary="The classes I may see",
    description="Admins: every class; instructors: the classes they own; students: the"
    " classes whose events carry their id (`student_id` then says which).",
    responses=refusals(503, 504),
)
async def list_classes(request: Caller, classroom: NamedDependency[ClassroomClient]) -> ClassesOut:
    return ClassesOut(classes=await visible_classes(classroom, request.user))


@post(
    "/api/v1/classes",
    opt={"access": "instructor"},
    summary="Create a class and its producer key (the secret is shown this once)",
    description="The caller owns it (an admin may name another owner, or none). Its producer"
    " key has the scope `ingest:events` and names the class.",
    status_code=HTTP_201_CREATED,
    responses=refusals(400, 409, 413, 503, 504),
)
async def create_class(
    request: Caller,
    data: JSONBody[NewClass],
    classroom: NamedDependency[ClassroomClient],
    auth: NamedDependency[AuthClient],
) -> Response[CreatedClass]:
    claims = request.user
    if data.owner_id is not None and claims.role != "admin" and data.owner_id != claims.sub:
        raise invalid_parameter("owner_id", "only an admin may name another owner")
    owner = data.owner_id if claims.role == "admin" else claims.sub
    create = CreateClass(
        id=data.id,
        title=data.title,
        owner_id=owner,
        collect_code=data.collect_code,
        pseudonymise=data.pseudonymise,
        planned_cells=data.planned_cells,
    )
    await classroom.call(create, ClassReply)
    key = await new_key(auth, claims, data.id)
    info = await keyed(classroom, data.id, key)
    return Response(
        CreatedClass(class_=info, api_key=key.api_key, secret=key.secret),
        status_code=HTTP_201_CREATED,
        headers=_NO_STORE,
    )


@get(
    CLASS,
    opt={"access": "account"},
    summary="One class",
    responses=refusals(400, 404, 503, 504),
)
async def show_class(
    request: Caller, class_id: FromPath[str], classroom: NamedDependency[ClassroomClient]
) -> ClassOut:
    return ClassOut(class_=await visible_class(classroom, request.user, class_id_of(class_id)))


@patch(
    CLASS,
    opt={"access": "instructor"},
    summary="Change a class (its instructor, or an admin)",
    description="Title, code collection, pseudonyms, planned cells; the owner: admins only.",
    responses=refusals(400, 404, 413, 503, 504),
)
async def change_class(
    request: Caller,
    class_id: FromPath[str],
    data: JSONBody[ClassChange],
    classroom: NamedDependency[ClassroomClient],
) -> ClassOut:
    claims = request.user
    info = await managed_class(classroom, claims, class_id_of(class_id))
    if data.owner_id is not None and claims.role != "admin":
        raise invalid_parameter("owner_id", "only an admin may change the owner")
    change = UpdateClass(
        class_id=info.id,
        title=data.title,
        owner_id=data.owner_id,
        collect_code=data.collect_code,
        pseudonymise=data.pseudonymise,
        planned_cells=data.planned_cells,
    )
    return ClassOut(class_=(await classroom.call(change, ClassReply)).class_)


@post(
    CLASS + "/key",
    opt={"access": "instructor"},
    summary="A new producer key for the class (the old one is revoked; the secret is shown"
    " this once)",
    status_code=HTTP_201_CREATED,
    responses=refusals(400, 404, 503, 504),
)
async def rotate_class_key(
    request: Caller,
    class_id: FromPath[str],
    classroom: NamedDependency[ClassroomClient],
    auth: NamedDependency[AuthClient],
) -> Response[ClassKey]:
    claims = request.user
    info = await managed_class(classroom, claims, class_id_of(class_id))
    key = await new_key(auth, claims, info.id)
    await keyed(classroom, info.id, key)
    if info.api_key_id is not None:
        try:
            await auth.call(
                RevokeApiKey(api_key_id=info.api_key_id),
                ApiKeyReply,
                current_traceparent.get(None),
            )
        except AuthRefused as refused:  # already gone: nothing to revoke
            if refused.error.code != "not_found":
                raise ApiError(503, refused.error.code, refused.error.message) from None
        except AuthUnavailable:
            raise ApiError(
                503, "auth_unavailable", "the new key works; the old one could not be revoked"
            ) from None
    return Response(
        ClassKey(api_key=key.api_key, secret=key.secret),
        status_code=HTTP_201_CREATED,
        headers=_NO_STORE,
    )


@get(
    CLASS + "/overview",
    opt={"access": "instructor"},
    summary="Where every student is in one notebook",
    description="Per cell: students who ran it, whose latest run succeeded or failed; per"
    " student: the furthest cell, last activity, failed runs, and their heatmap row.",
    responses=refusals(400, 404, 503, 504),
)
async def class_overview(
    request: Caller,
    class_id: FromPath[str],
    classroom: NamedDependency[ClassroomClient],
    *,
    notebook: Notebook = None,
) -> OverviewOut:
    info = await managed_class(classroom, request.user, class_id_of(class_id))
    query = OverviewQuery(class_id=info.id, notebook_path=notebook)
    return OverviewOut.of(await classroom.view(query, ClassOverview))


@get(
    CLASS + "/progress",
    opt={"access": "instructor"},
    summary="The class's progress over time: median and interquartile range of the cell reached",
    responses=refusals(400, 404, 503, 504),
)
async def class_progress(
    request: Caller,
    class_id: FromPath[str],
    classroom: NamedDependency[ClassroomClient],
    *,
    notebook: Notebook = None,
    step_s: Annotated[
        int, QueryParameter(ge=60, le=300, description="seconds per step (60-300)")
    ] = 60,
    from_: From = None,
    to: To = None,
) -> ProgressOut:
    info = await managed_class(classroom, request.user, class_id_of(class_id))
    start, end = time_range(from_, to)
    query = ProgressQuery(
        class_id=info.id, notebook_path=notebook, step_s=step_s, start=start, end=end
    )
    return ProgressOut.of(await classroom.view(query, ClassProgress))


@get(
    CLASS + "/hotspots",
    opt={"access": "instructor"},
    summary="Cells and error names ranked by failed runs",
    responses=refusals(400, 404, 503, 504),
)
async def class_hotspots(
    request: Caller,
    class_id: FromPath[str],
    classroom: NamedDependency[ClassroomClient],
    *,
    notebook: Notebook = None,
    limit: Annotated[int, QueryParameter(ge=1, le=100, description="at most this many")] = 20,
    from_: From = None,
    to: To = None,
) -> HotspotsOut:
    info = await managed_class(classroom, request.user, class_id_of(class_id))
    start, end = time_range(from_, to)
    query = HotspotsQuery(
        class_id=info.id, notebook_path=notebook, limit=limit, start=start, end=end
    )
    answer = await classroom.view(query, ClassHotspots)
    return HotspotsOut(
        class_id=answer.class_id,
        notebook_path=answer.notebook_path,
        cells=answer.cells,
        errors=answer.errors,
    )


@get(
    CLASS + "/students/{student_id:str}/timeline",
    opt={"access": "account"},
    summary="One student's events, oldest first (the latest `limit`)",
    description="The class's instructor and admins: any student; a student: only their own.",
    responses=refusals(400, 403, 404, 503, 504),
)
async def student_timeline(
    request: Caller,
    class_id: FromPath[str],
    student_id: FromPath[str],
    classroom: NamedDependency[ClassroomClient],
    *,
    limit: Annotated[
        int, QueryParameter(ge=1, le=MAX_TIMELINE_EVENTS, description="at most this many events")
    ] = 1_000,
    notebook: Notebook = None,
    from_: From = None,
    to: To = None,
) -> TimelineOut:
    cid = class_id_of(class_id)
    if len(student_id) > _MAX_STUDENT_ID:
        raise invalid_parameter("student_id", f"at most {_MAX_STUDENT_ID} characters")
    await timeline_allowed(classroom, request.user, cid, student_id)
    start, end = time_range(from_, to)
    query = TimelineQuery(
        class_id=cid,
        student_id=student_id,
        limit=limit,
        notebook_path=notebook,
        start=start,
        end=end,
    )
    answer = await classroom.view(query, StudentTimeline)
    return TimelineOut(
        class_id=answer.class_id,
        student_id=answer.student_id,
        events=answer.events,
        truncated=answer.truncated,
    )


@get(
    CLASS + "/feed",
    opt={"access": "instructor"},
    summary="The class's latest events, newest last",
    responses=refusals(400, 404, 503, 504),
)
async def class_feed(
    request: Caller,
    class_id: FromPath[str],
    classroom: NamedDependency[ClassroomClient],
    *,
    limit: Annotated[int, QueryParameter(ge=1, le=1_000, description="at most this many")] = 100,
    before: Annotated[
        str | None,
        QueryParameter(description="only events before this time (ISO 8601)", format="date-time"),
    ] = None,
) -> FeedOut:
    info = await managed_class(classroom, request.user, class_id_of(class_id))
    until = parse_time("before", before) if before is not None else None
    answer = await classroom.view(FeedQuery(class_id=info.id, limit=limit, before=until), ClassFeed)
    return FeedOut(class_id=answer.class_id, events=answer.events)


ROUTES = [
    list_classes,
    create_class,
    show_class,
    change_class,
    rotate_class_key,
    class_overview,
    class_progress,
    class_hotspots,
    student_timeline,
    class_feed,
]
