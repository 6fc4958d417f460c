"""Channels a socket may subscribe to: their names, the streams and subjects behind them, and
which roles may ask for them.

- ``metric:<name>``: one metric from every source (``metrics.*.<name>``);
- ``series:<source>:<name>``: one series (``metrics.<source>.<name>``);
- ``source:<source>``: every metric of one source (``metrics.<source>.*``);
- ``class:<class_id>``: a class's notebook events (``events.<class_id>`` in EVENTS);
- ``notifications``: the user's own inbox changes (``notifications.<user_id>`` in
  NOTIFICATIONS), whoever they are: the same name is a different channel for each user;
- ``logs``: every audit record as it is stored (``logs.<kind>.<service>`` in LOGS), admins only.

The role is the first check; a class channel has a second, its owner (``class_access.py``).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from pulse_contracts import SERIES_TOKEN_PATTERN, subjects
from pulse_contracts.audit.subjects import LOGS_SUBJECTS
from pulse_contracts.classroom.events import CLASS_ID_PATTERN

from .feeds import CLASS_EVENT_FEED, INBOX_FEED, LOG_FEED, METRIC_FEED, Feed

_TOKEN = re.compile(SERIES_TOKEN_PATTERN)
_CLASS_ID = re.compile(CLASS_ID_PATTERN)
CHANNEL_KINDS = ("metric", "series", "source", "class", "notifications", "logs")
"""Every kind of channel (the part before the first ``:``); the access test walks each."""
ROLES_FOR_METRICS = frozenset({"user", "instructor", "admin"})  # not students (ADR 0023)
ROLES_FOR_CLASSES = frozenset({"admin", "instructor"})
"""Admins watch every class; an instructor only the classes they own; students none."""
ROLES_FOR_INBOX = frozenset({"admin", "user", "instructor", "student"})
"""Everyone has an inbox; the channel is always the caller's own."""
INBOX_CHANNEL = "notifications"
ROLES_FOR_LOGS = frozenset({"admin"})
"""The audit trail is the admins' alone (as its REST routes)."""
LOGS_CHANNEL = "logs"


class ChannelRefused(ValueError):
    """Why a subscription is refused: ``code`` is stable, ``str(self)`` explains it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ChannelSpec(msgspec.Struct, frozen=True):
    name: str
    """As the client wrote it; frames carry it back."""
    subject: str
    """The stream subject filter behind it."""
    roles: frozenset[str]
    feed: Feed[Any]
    """The stream it reads and how its messages become frames."""
    class_id: str | None = None
    """A class channel's class: who may watch it depends on its owner."""
    key: str = ""
    """What the hub shares one subscription by, when the name is not enough: the
    ``notifications`` channel is a different one for each user."""

    @property
    def shared_as(self) -> str:
        """The hub's name for it: one NATS subscription per distinct value."""
        return self.key or self.name


def parse_channel(channel: str, user_id: str = "") -> ChannelSpec:
    """The channel named ``channel`` as ``user_id`` (the socket's user) would watch it."""
    if channel == INBOX_CHANNEL and user_id:
        return ChannelSpec(
            channel,
            subjects.notifications_subject(user_id),
            ROLES_FOR_INBOX,
            INBOX_FEED,
            key=f"{INBOX_CHANNEL}:{user_id}",
        )
    if channel == LOGS_CHANNEL:
        return ChannelSpec(channel, LOGS_SUBJECTS, ROLES_FOR_LOGS, LOG_FEED)
    kind, _, rest = channel.partition(":")
    parts = rest.split(":") if rest else []
    if kind == "metric" and len(parts) == 1:
        (name,) = _tokens(channel, parts)
        return ChannelSpec(
            channel, subjects.metrics_live_subject(name), ROLES_FOR_METRICS, METRIC_FEED
        )
    if kind == "series" and len(parts) == 2:
        source, name = _tokens(channel, parts)
        return ChannelSpec(
            channel, subjects.metrics_subject(source, name), ROLES_FOR_METRICS, METRIC_FEED
        )
    if kind == "source" and len(parts) == 1:
        (source,) = _tokens(channel, parts)
        return ChannelSpec(
            channel, subjects.metrics_subject(source, "*"), ROLES_FOR_METRICS, METRIC_FEED
        )
    if kind == "class" and len(parts) == 1:
        (class_id,) = parts
        if not _CLASS_ID.fullmatch(class_id):
            raise ChannelRefused(
                "unknown_channel",
                f"bad class id {class_id!r} in channel {channel!r}: 1-63 of a-z 0-9 -,"
                " starting with a letter or digit",
            )
        return ChannelSpec(
            channel,
            subjects.events_subject(class_id),
            ROLES_FOR_CLASSES,
            CLASS_EVENT_FEED,
            class_id=class_id,
        )
    raise ChannelRefused(
        "unknown_channel",
        f"unknown channel {channel!r}: use metric:<name>, series:<source>:<name>,"
        " source:<source>, class:<class_id>, notifications or logs",
    )


def authorize(spec: ChannelSpec, role: str) -> None:
    """The role check; a class channel's owner is checked next (``class_access.py``)."""
    if role not in spec.roles:
        raise ChannelRefused("forbidden", f"the {role} role may not watch {spec.name!r}")


def _tokens(channel: str, parts: list[str]) -> list[str]:
    for part in parts:
        if not _TOKEN.fullmatch(part):
            raise ChannelRefused(
                "unknown_channel",
                f"bad name {part!r} in channel {channel!r}: 1-64 of A-Z a-z 0-9 _ -",
            )
    return parts
