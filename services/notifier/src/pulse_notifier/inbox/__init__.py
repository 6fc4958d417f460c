"""Per-user inboxes: the notifications, their read state and the counter row (unread,
version); every change goes into the outbox in its own transaction."""

from .store import Count, InboxStore, MarkOutcome

__all__ = ["Count", "InboxStore", "MarkOutcome"]
