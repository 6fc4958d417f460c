"""What each inbox request means, apart from the database: the state filters, what a mark
changes and how it moves the unread count, a page's cursor, and the changes to publish.

Unread means neither read nor archived: archiving an unread notification lowers the count,
and marking an archived one read or unread leaves it as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, NamedTuple

from pulse_contracts.notifications import InboxChange, InboxState, Notification

MarkChange = Literal["read", "unread", "seen", "archived"]

STATE_FILTERS: dict[InboxState, str] = {
    "unread": "read_at IS NULL AND archived_at IS NULL",
    "read": "read_at IS NOT NULL AND archived_at IS NULL",
    "archived": "archived_at IS NOT NULL",
    "all": "archived_at IS NULL",
}
"""SQL conditions on ``notify.notifications`` (constant text, never a value)."""


class MarkRule(NamedTuple):
    assignment: str
    """The SQL ``SET`` that makes the change."""
    pending: str
    """The rows it would change (a row already in that state is left alone, and not counted
    as changed: marking twice publishes one change)."""
    counted: str
    """Evaluated on a changed row: whether it moves the unread count."""
    step: int
    """How a counted row moves it."""


MARK_RULES: dict[MarkChange, MarkRule] = {
    "read": MarkRule("read_at = now()", "read_at IS NULL", "archived_at IS NULL", -1),
    "unread": MarkRule("read_at = NULL", "read_at IS NOT NULL", "archived_at IS NULL", 1),
    "seen": MarkRule("seen_at = now()", "seen_at IS NULL", "false", 0),
    "archived": MarkRule("archived_at = now()", "archived_at IS NULL", "read_at IS NULL", -1),
}


def unread_step(change: MarkChange, counted: Sequence[bool]) -> int:
    """How much a mark that changed rows with these ``counted`` flags moves the count."""
    return MARK_RULES[change].step * sum(counted)


def cut_page(items: list[Notification], limit: int) -> tuple[list[Notification], int | None]:
    """``items`` holds up to ``limit + 1`` rows, newest first: the page and the cursor of the
    next one (the last id shown), or None when nothing older is left."""
    if len(items) > limit:
        page = items[:limit]
        return page, page[-1].id
    return items, None


def created_change(notification: Notification, unread: int, version: int) -> InboxChange:
    return InboxChange(
        change="created",
        user_id=notification.recipient,
        unread=unread,
        version=version,
        notification=notification,
        at=notification.created_at,
    )


def marked_change(
    change: MarkChange, user_id: str, ids: list[int], *, unread: int, version: int, at: datetime
) -> InboxChange:
    return InboxChange(
        change=change, user_id=user_id, unread=unread, version=version, ids=ids, at=at
    )
