"""A class channel's history: the class's latest events, read back from the EVENTS stream.

The history comes from the stream, not from persistence's feed (``rpc.query.class.feed``),
for the reason metric history does (ADR 8, ADR 27): the stream's sequences are the ones the
live frames carry, so the seam between history and live has no gap and no duplicate, and it
does not depend on how far behind persistence is. The stream keeps the recent window
(``PULSE_STREAM_MAX_AGE_S``, 7 days); older events come from REST
(``GET /api/v1/classes/{class_id}/feed``).

A busy class may hold more messages in the asked window than one read may take
(``PULSE_WS_REPLAY_MAX_MESSAGES``): the window is then narrowed (a quarter each time, a few
times) rather than the subscribe refused, since only the latest events are wanted anyway.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Final

from pulse_contracts.classroom import MAX_EVENTS_PER_BATCH, ClassEvents, NotebookEvent

from .channels import ChannelSpec
from .frames import Events
from .replay import StreamReader, TooMuchToReplay

MAX_HISTORY_EVENTS: Final = 1_000
"""The most events a class channel's history holds (as ``FeedQuery.limit``)."""
_NARROWINGS: Final = 3
"""How often a window too busy to read is narrowed to a quarter before the subscribe is
refused (``replay_too_large``): 60 minutes become 15, 3.75, then about 56 seconds."""

StoredEvent = tuple[int, NotebookEvent]
"""An event with the stream sequence of the message it came in."""


async def latest_events(
    reader: StreamReader,
    spec: ChannelSpec,
    *,
    minutes: float,
    limit: int,
    max_messages: int,
) -> tuple[int, list[StoredEvent]]:
    """The last stream sequence read (0: none) and the latest ``limit`` events of the last
    ``minutes``, oldest first."""
    window = timedelta(minutes=minutes)
    for narrowed in range(_NARROWINGS + 1):
        kept: deque[StoredEvent] = deque(maxlen=limit)
        last = 0
        try:
            async for stored in reader.read(
                spec.feed, spec.subject, since=datetime.now(UTC) - window, max_messages=max_messages
            ):
                message: ClassEvents = stored.message
                last = stored.seq
                kept.extend((stored.seq, event) for event in message.events)
        except TooMuchToReplay:
            if narrowed == _NARROWINGS:
                raise
            window /= 4
            continue
        return last, list(kept)
    raise AssertionError("unreachable")  # pragma: no cover


def history_frames(channel: str, events: list[StoredEvent]) -> list[Events]:
    """``events`` in frames of at most 100, each with the sequence of the message its last
    event came from: a client that resumes from any of them misses nothing after it."""
    frames = []
    for first in range(0, len(events), MAX_EVENTS_PER_BATCH):
        chunk = events[first : first + MAX_EVENTS_PER_BATCH]
        frames.append(Events(channel=channel, seq=chunk[-1][0], events=[e for _, e in chunk]))
    return frames
