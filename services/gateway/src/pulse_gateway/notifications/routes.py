"""The notifications REST routes: each user's own inbox (any signed-in account), and
sending (admins). Nobody reads or changes another user's notifications: every request
names the caller as the inbox's owner, from their token, never from the request."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED
from pulse_contracts.notifications import (
    MAX_PAGE,
    Created,
    CreateNotification,
    GetUnread,
    InboxCount,
    InboxState,
    ListNotifications,
    MarkNotifications,
    NotificationPage,
)
from pulse_runtime.access_tokens import AccessClaims
from pulse_runtime.web import invalid_parameter

from pulse_gateway.edge.refusals import refusals

from .client import NotifierClient
from .schemas import CountOut, CreatedOut, Mark, NewNotification, PageOut

Caller = Request[AccessClaims, Any, Any]
_NO_STORE = {"Cache-Control": "no-store"}


@get(
    "/api/v1/notifications",
    opt={"access": "account"},
    summary="My notifications, newest first",
    description="Filter by `state` (`all`: not archived); page with `before_id` (the"
    " previous page's `next_before_id`). Carries my unread count and its inbox version.",
    responses=refusals(400, 503, 504),
)
async def list_notifications(
    request: Caller,
    notifier: NamedDependency[NotifierClient],
    *,
    which: Annotated[InboxState, QueryParameter(name="state", description="which ones")] = "all",
    before_id: Annotated[
        int | None, QueryParameter(ge=1, description="only older than this id")
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="page size")] = 50,
) -> Response[PageOut]:
    page = await notifier.call(
        ListNotifications(user_id=request.user.sub, state=which, before_id=before_id, limit=limit),
        NotificationPage,
    )
    out = PageOut(
        items=page.items,
        next_before_id=page.next_before_id,
        unread=page.unread,
        version=page.version,
    )
    return Response(out, headers=_NO_STORE)


@get(
    "/api/v1/notifications/unread",
    opt={"access": "account"},
    summary="My unread count",
    responses=refusals(503, 504),
)
async def unread_count(
    request: Caller, notifier: NamedDependency[NotifierClient]
) -> Response[CountOut]:
    count = await notifier.call(GetUnread(user_id=request.user.sub), InboxCount)
    return Response(CountOut(unread=count.unread, version=count.version), headers=_NO_STORE)


@post(
    "/api/v1/notifications/mark",
    opt={"access": "account"},
    summary="Mark some of my notifications (or all) read, unread, seen or archived",
    description="Ids that are not mine change nothing. Every device of mine sees the change"
    " on its `notifications` channel.",
    status_code=200,
    responses=refusals(400, 413, 503, 504),
)
async def mark_notifications(
    request: Caller, data: JSONBody[Mark], notifier: NamedDependency[NotifierClient]
) -> CountOut:
    if not data.all and not data.ids:
        raise invalid_parameter("ids", "name at least one notification, or set all")
    if data.all and data.ids:
        raise invalid_parameter("all", "either ids or all, not both")
    mark = MarkNotifications(
        user_id=request.user.sub, change=data.change, ids=data.ids, all=data.all
    )
    count = await notifier.call(mark, InboxCount)
    return CountOut(unread=count.unread, version=count.version, changed=count.changed)


@post(
    "/api/v1/notifications",
    opt={"access": "admin"},
    summary="Send a notification (admins)",
    description="To the users named, everyone with one of the roles, or everyone; expanded to"
    " each user when sent. `unknown_recipient`: a user id that names nobody.",
    status_code=HTTP_201_CREATED,
    responses=refusals(400, 413, 503, 504),
)
async def send_notification(
    request: Caller, data: JSONBody[NewNotification], notifier: NamedDependency[NotifierClient]
) -> Response[CreatedOut]:
    recipients = data.recipients
    if not (recipients.users or recipients.roles or recipients.everyone):
        raise invalid_parameter("recipients", "name users, roles, or everyone")
    create = CreateNotification(
        recipients=recipients,
        kind=data.kind,
        title=data.title,
        body=data.body,
        link=data.link,
        source="admin",
        created_by=request.user.sub,
    )
    created = await notifier.call(create, Created)
    return Response(
        CreatedOut(recipients=created.recipients, ids=created.ids), status_code=HTTP_201_CREATED
    )


ROUTES = [list_notifications, unread_count, mark_notifications, send_notification]
