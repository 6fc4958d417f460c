"""Which part answers each ``rpc.notify.*`` request: the recipients (``recipients/``), the
inboxes (``inbox/``)."""

from __future__ import annotations

from pulse_contracts import RpcError
from pulse_contracts.notifications import (
    Created,
    CreateNotification,
    GetUnread,
    InboxCount,
    ListNotifications,
    MarkNotifications,
    NotificationPage,
    NotifyReply,
    NotifyRequest,
)

from .inbox import InboxStore
from .recipients import Directory, RecipientsRefused

MAX_CREATED_IDS = 1000
"""A :class:`Created` reply lists at most this many ids (a notification to everyone has one
per user)."""


class Answers:
    def __init__(self, directory: Directory, inboxes: InboxStore) -> None:
        self._directory = directory
        self._inboxes = inboxes

    async def handle(self, request: NotifyRequest, traceparent: str | None = None) -> NotifyReply:
        match request:
            case CreateNotification():
                return await self.create(request, traceparent)
            case ListNotifications():
                items, next_before_id, count = await self._inboxes.page(
                    request.user_id, request.state, request.before_id, request.limit
                )
                return NotificationPage(
                    items=items,
                    next_before_id=next_before_id,
                    unread=count.unread,
                    version=count.version,
                )
            case GetUnread():
                count = await self._inboxes.count(request.user_id)
                return InboxCount(unread=count.unread, version=count.version)
            case MarkNotifications():
                if request.all == bool(request.ids):
                    return RpcError(code="bad_request", message="give either ids or all")
                outcome = await self._inboxes.mark(
                    request.user_id, request.change, request.ids, request.all
                )
                return InboxCount(
                    unread=outcome.after.unread,
                    version=outcome.after.version,
                    changed=outcome.changed,
                )

    async def create(
        self, request: CreateNotification, traceparent: str | None
    ) -> Created | RpcError:
        try:
            users = await self._directory.expand(request.recipients, traceparent)
        except RecipientsRefused as exc:
            return exc.error
        created = await self._inboxes.create(users, request)
        return Created(
            recipients=len(users),
            ids=[notification.id for notification in created][:MAX_CREATED_IDS],
        )
