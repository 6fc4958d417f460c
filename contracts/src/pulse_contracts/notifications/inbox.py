"""Notifications: a per-user inbox with read, seen and archived state, owned by the notifier.

Asked over ``rpc.notify.<verb>`` (the gateway for users and admins; the alerts service for
its firings); every change of an inbox (created, read, seen, archived) is published on
``notifications.<user_id>`` in the NOTIFICATIONS stream with the recipient's unread count after
it, so every device of theirs, on every gateway replica, shows the same count (ADR 0029).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from pulse_contracts.accounts.users import Role
from pulse_contracts.rpc import RpcError
from pulse_contracts.text import STORABLE

Kind = Literal["info", "success", "warning", "error"]
Source = Literal["admin", "rule", "system"]
LinkKind = Literal["series", "class", "student", "trace"]
InboxState = Literal["unread", "read", "archived", "all"]
"""``unread``/``read``: not archived; ``archived``: archived ones only; ``all``: not archived."""
ChangeKind = Literal["created", "read", "seen", "archived"]

MAX_TITLE_CHARS = 200
MAX_BODY_CHARS = 4000
MAX_RECIPIENT_USERS = 1000
MAX_IDS_PER_CHANGE = 1000
MAX_PAGE = 200

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TITLE_CHARS), STORABLE]
Body = Annotated[str, msgspec.Meta(max_length=MAX_BODY_CHARS), STORABLE]
UserId = Annotated[str, msgspec.Meta(min_length=1, max_length=64), STORABLE]
NotificationId = Annotated[int, msgspec.Meta(ge=1)]
LinkTarget = Annotated[str, msgspec.Meta(min_length=1, max_length=300), STORABLE]
DedupeKey = Annotated[str, msgspec.Meta(min_length=1, max_length=300), STORABLE]


class Link(msgspec.Struct, frozen=True, kw_only=True):
    """What a notification points at; the dashboard turns it into a page:
    ``series`` ``<source>:<metric>``, ``class`` ``<class_id>``, ``student``
    ``<class_id>:<student_id>``, ``trace`` ``<trace id>``."""

    kind: LinkKind
    target: LinkTarget


class Recipients(msgspec.Struct, frozen=True, kw_only=True):
    """Who gets it, expanded to users when it is created: the users named, everyone with one
    of the roles, or everyone (enabled accounts only). At least one must be given."""

    users: Annotated[list[UserId], msgspec.Meta(max_length=MAX_RECIPIENT_USERS)] = []
    roles: list[Role] = []
    everyone: bool = False


class Notification(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    recipient: str
    kind: Kind
    title: str
    body: str
    link: Link | None
    source: Source
    created_at: datetime
    read_at: datetime | None = None
    seen_at: datetime | None = None
    archived_at: datetime | None = None


class CreateNotification(msgspec.Struct, frozen=True, kw_only=True, tag="create"):
    """Admins (``source="admin"``) and the alert rules (``source="rule"``) create.

    ``dedupe_key``: a second create with the same key for the same recipient is a no-op (an
    alert retried after a crash is not delivered twice)."""

    recipients: Recipients
    kind: Kind = "info"
    title: Title
    body: Body = ""
    link: Link | None = None
    source: Source = "admin"
    created_by: UserId | None = None
    dedupe_key: DedupeKey | None = None


class Created(msgspec.Struct, frozen=True, kw_only=True, tag="created"):
    recipients: int
    """How many users it was expanded to (a repeated ``dedupe_key`` counts as delivered)."""
    ids: list[int]
    """The new notifications' ids (at most the first 1000)."""


class ListNotifications(msgspec.Struct, frozen=True, kw_only=True, tag="list"):
    """A user's own notifications, newest first; ``before_id`` is the page cursor."""

    user_id: UserId
    state: InboxState = "all"
    before_id: NotificationId | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)] = 50


class NotificationPage(msgspec.Struct, frozen=True, kw_only=True, tag="page"):
    items: list[Notification]
    next_before_id: int | None
    """Pass as ``before_id`` for the next (older) page; None on the last."""
    unread: int
    version: int
    """The inbox's version (see :class:`InboxChange`) the unread count is of."""


class GetUnread(msgspec.Struct, frozen=True, kw_only=True, tag="unread"):
    user_id: UserId


class MarkNotifications(msgspec.Struct, frozen=True, kw_only=True, tag="mark"):
    """Mark the user's own notifications ``ids`` (or all of them, ``all=True``) read, seen or
    archived (``unread``: read again becomes unread). Ids that are not theirs are not found."""

    user_id: UserId
    change: Literal["read", "unread", "seen", "archived"]
    ids: Annotated[list[NotificationId], msgspec.Meta(max_length=MAX_IDS_PER_CHANGE)] = []
    all: bool = False


class InboxCount(msgspec.Struct, frozen=True, kw_only=True, tag="count"):
    unread: int
    version: int
    """The inbox's version the count is of (see :class:`InboxChange`)."""
    changed: list[int] = []
    """The ids whose state this request changed."""


class InboxChange(msgspec.Struct, frozen=True, kw_only=True):
    """One change of a user's inbox, on ``notifications.<user_id>`` (NOTIFICATIONS)."""

    change: Literal["created", "read", "unread", "seen", "archived"]
    user_id: str
    unread: int
    """Their unread count after this change."""
    version: int
    """The inbox's version after this change: 1, 2, 3 … per user, one per change, in commit
    order. A device shows the unread count of the highest version it has seen, whether from a
    change or from a REST answer (:class:`InboxCount`): no race between the two."""
    notification: Notification | None = None
    """The new notification (``created`` only)."""
    ids: list[int] = []
    """The notifications changed (read, unread, seen, archived)."""
    at: datetime


NotifyRequest = CreateNotification | ListNotifications | GetUnread | MarkNotifications
NotifyReply = Created | NotificationPage | InboxCount | RpcError

NOTIFY_VERBS: dict[type[NotifyRequest], str] = {
    CreateNotification: "create",
    ListNotifications: "list",
    GetUnread: "unread",
    MarkNotifications: "mark",
}
"""Each request's verb: ``rpc.notify.<verb>``."""
