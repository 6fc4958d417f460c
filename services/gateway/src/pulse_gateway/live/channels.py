"""Channels a socket may subscribe to: their names, the subjects behind them, who may see them.

- ``metric:<name>``: one metric from every source (``metrics.*.<name>``);
- ``series:<source>:<name>``: one series (``metrics.<source>.<name>``);
- ``source:<source>``: every metric of one source (``metrics.<source>.*``);
- ``events:<feed>``: an event feed (the classroom's, later); admins only until then.
"""

from __future__ import annotations

import re

import msgspec
from pulse_contracts import SERIES_TOKEN_PATTERN, subjects

_TOKEN = re.compile(SERIES_TOKEN_PATTERN)
_ROLES_FOR_METRICS = frozenset({"user", "instructor", "admin"})  # not students (ADR 0023)
_ROLES_FOR_EVENTS = frozenset({"admin"})


class ChannelRefused(ValueError):
    """Why a subscription is refused: ``code`` is stable, ``str(self)`` explains it."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ChannelSpec(msgspec.Struct, frozen=True):
    name: str
    """As the client wrote it; frames carry it back."""
    subject: str
    """The METRICS stream subject filter behind it."""
    roles: frozenset[str]
    available: bool = True


def parse_channel(channel: str) -> ChannelSpec:
    kind, _, rest = channel.partition(":")
    parts = rest.split(":") if rest else []
    if kind == "metric" and len(parts) == 1:
        (name,) = _tokens(channel, parts)
        return ChannelSpec(channel, subjects.metrics_live_subject(name), _ROLES_FOR_METRICS)
    if kind == "series" and len(parts) == 2:
        source, name = _tokens(channel, parts)
        return ChannelSpec(channel, subjects.metrics_subject(source, name), _ROLES_FOR_METRICS)
    if kind == "source" and len(parts) == 1:
        (source,) = _tokens(channel, parts)
        return ChannelSpec(channel, subjects.metrics_subject(source, "*"), _ROLES_FOR_METRICS)
    if kind == "events" and len(parts) == 1:
        (feed,) = _tokens(channel, parts)
        return ChannelSpec(channel, f"events.{feed}", _ROLES_FOR_EVENTS, available=False)
    raise ChannelRefused(
        "unknown_channel",
        f"unknown channel {channel!r}: use metric:<name>, series:<source>:<name>,"
        " source:<source> or events:<feed>",
    )


def authorize(spec: ChannelSpec, role: str) -> None:
    if role not in spec.roles:
        raise ChannelRefused("forbidden", f"the {role} role may not watch {spec.name!r}")
    if not spec.available:
        raise ChannelRefused("unavailable", f"{spec.name!r} has no data source yet")


def _tokens(channel: str, parts: list[str]) -> list[str]:
    for part in parts:
        if not _TOKEN.fullmatch(part):
            raise ChannelRefused(
                "unknown_channel",
                f"bad name {part!r} in channel {channel!r}: 1-64 of A-Z a-z 0-9 _ -",
            )
    return parts
