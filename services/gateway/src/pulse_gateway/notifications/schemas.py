"""JSON shapes of the notifications REST routes: the contract's requests without what the
gateway fills in (the caller's id, the source), and its replies without their ``type`` tag."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from pulse_contracts.notifications import Kind, Link, Notification, Recipients
from pulse_contracts.notifications.inbox import (
    MAX_IDS_PER_CHANGE,
    Body,
    NotificationId,
    Title,
)


class NewNotification(msgspec.Struct, frozen=True, kw_only=True):
    """What an admin sends: to the users named, everyone with one of the roles, or everyone."""

    recipients: Recipients
    kind: Kind = "info"
    title: Title
    body: Body = ""
    link: Link | None = None


class CreatedOut(msgspec.Struct, frozen=True, kw_only=True):
    recipients: int
    """How many users it went to."""
    ids: list[int]


class Mark(msgspec.Struct, frozen=True, kw_only=True):
    """Mark some of my notifications (``ids``), or all of them (``all``)."""

    change: Literal["read", "unread", "seen", "archived"]
    ids: Annotated[list[NotificationId], msgspec.Meta(max_length=MAX_IDS_PER_CHANGE)] = []
    all: bool = False


class CountOut(msgspec.Struct, frozen=True, kw_only=True):
    unread: int
    version: int
    """The inbox's version this count is of: a live ``notification`` frame with a higher one
    is newer."""
    changed: list[int] = []


class PageOut(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Notification]
    next_before_id: int | None
    """Pass as ``before_id`` for the next (older) page; null on the last."""
    unread: int
    version: int
