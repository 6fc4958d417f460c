"""Notebook events into the classroom tables, each event stored once, in one transaction per
batch.

Every event of the batch is copied (binary COPY) into the per-connection staging table
``class_events_staging``; ``class_event_ids`` (primary key ``event_id``) keeps only the events
never stored before (a redelivery, a producer's retry after the duplicate window, the same
event over HTTP and NATS), the others are dropped from the staging table; then each table is
written from what is left with one statement: the raw events, the students, notebooks and
cells (upserts), the cell executions, and each student's latest state per cell (by event
time, whatever the arrival order). A class first seen in events is created with no owner and
a random salt (ADR 0023, decision 2). Each event keeps the trace id of the message that
brought it (``class_events.trace_id``: docs/audit.md).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import NamedTuple

import asyncpg
import msgspec
from pulse_contracts.classroom import KNOWN_EVENT_TYPES, ClassEvents, NotebookEvent
from pulse_runtime.database import acquired

STAGING = "class_events_staging"
STAGING_COLUMNS = [
    "event_time",
    "event_id",
    "class_id",
    "event_type",
    "known",
    "student_id",
    "notebook_path",
    "cell_id",
    "cell_index",
    "cell_type",
    "has_error",
    "error_name",
    "duration_ms",
    "execution_count",
    "attributes",
    "trace_id",
]
CREATE_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS class_events_staging (
    event_time timestamptz, event_id uuid, class_id text, event_type text, known boolean,
    student_id text, notebook_path text, cell_id text, cell_index integer, cell_type text,
    has_error boolean, error_name text, duration_ms double precision, execution_count integer,
    attributes jsonb, trace_id text
) ON COMMIT DELETE ROWS
"""

_NEW_CLASSES = """
INSERT INTO classes (id, title, salt)
SELECT id, id, salt FROM unnest($1::text[], $2::text[]) AS new (id, salt)
ON CONFLICT (id) DO NOTHING
"""

# Only events never stored before go on. Sorted, so that two writers claiming the same ids
# lock them in the same order (no deadlock).
_CLAIM_IDS = """
INSERT INTO class_event_ids (event_id, class_id)
SELECT event_id, class_id FROM class_events_staging ORDER BY event_id
ON CONFLICT (event_id) DO NOTHING
"""
# When some were stored before (rare: a redelivery, a repeat), they leave the staging table:
# the ids this transaction claimed are the rows it inserted (their xmin).
_DROP_SEEN = """
DELETE FROM class_events_staging s
WHERE NOT EXISTS (
    SELECT FROM class_event_ids i
    WHERE i.event_id = s.event_id AND i.xmin = pg_current_xact_id()::xid
)
"""

# One round trip (no parameters: the simple query protocol takes several statements). The
# rows only this transaction writes come first; the upserts of rows every writer shares (the
# class's students, its notebook's counter, its cells, the students' cell states) last, in the
# same order in every transaction, so that a concurrent writer waits on their row locks for as
# short a time as possible (until this commit) and never in a cycle.
_DERIVE = """
INSERT INTO class_events (event_time, event_id, class_id, event_type, student_id,
                          notebook_path, cell_index, has_error, attributes, trace_id)
SELECT event_time, event_id, class_id, event_type, student_id, notebook_path, cell_index,
       has_error, attributes, trace_id
FROM class_events_staging;

INSERT INTO cell_executions (executed_at, event_id, class_id, notebook_path, cell_index,
                             student_id, succeeded, duration_ms, error_name, execution_count)
SELECT event_time, event_id, class_id, notebook_path, cell_index, student_id, NOT has_error,
       duration_ms, error_name, execution_count
FROM class_events_staging WHERE event_type = 'cell_executed';

INSERT INTO class_students AS s (class_id, student_id, first_seen, last_activity)
SELECT class_id, student_id, min(event_time), max(event_time)
FROM class_events_staging GROUP BY class_id, student_id ORDER BY class_id, student_id
ON CONFLICT (class_id, student_id) DO UPDATE
    SET first_seen = least(s.first_seen, excluded.first_seen),
        last_activity = greatest(s.last_activity, excluded.last_activity);

INSERT INTO class_notebooks AS n (class_id, notebook_path, first_seen, last_activity, events)
SELECT class_id, notebook_path, min(event_time), max(event_time), count(*)
FROM class_events_staging WHERE known AND notebook_path IS NOT NULL
GROUP BY class_id, notebook_path ORDER BY class_id, notebook_path
ON CONFLICT (class_id, notebook_path) DO UPDATE
    SET first_seen = least(n.first_seen, excluded.first_seen),
        last_activity = greatest(n.last_activity, excluded.last_activity),
        events = n.events + excluded.events;

INSERT INTO class_cells AS c (class_id, notebook_path, cell_index, cell_id, cell_type)
SELECT DISTINCT ON (class_id, notebook_path, cell_index)
       class_id, notebook_path, cell_index, cell_id, cell_type
FROM class_events_staging
WHERE known AND notebook_path IS NOT NULL AND cell_index IS NOT NULL AND cell_id IS NOT NULL
ORDER BY class_id, notebook_path, cell_index, event_time DESC
ON CONFLICT (class_id, notebook_path, cell_index) DO UPDATE
    SET cell_id = excluded.cell_id, cell_type = coalesce(excluded.cell_type, c.cell_type);

INSERT INTO cell_states AS cs (class_id, notebook_path, student_id, cell_index, runs, errors,
                               last_succeeded, first_run_at, last_run_at)
SELECT class_id, notebook_path, student_id, cell_index, count(*),
       count(*) FILTER (WHERE has_error),
       NOT (array_agg(has_error ORDER BY event_time DESC, event_id DESC))[1],
       min(event_time), max(event_time)
FROM class_events_staging WHERE event_type = 'cell_executed'
GROUP BY class_id, notebook_path, student_id, cell_index
ORDER BY class_id, notebook_path, student_id, cell_index
ON CONFLICT (class_id, notebook_path, student_id, cell_index) DO UPDATE
    SET runs = cs.runs + excluded.runs,
        errors = cs.errors + excluded.errors,
        last_succeeded = CASE WHEN excluded.last_run_at >= cs.last_run_at
                              THEN excluded.last_succeeded ELSE cs.last_succeeded END,
        first_run_at = least(cs.first_run_at, excluded.first_run_at),
        last_run_at = greatest(cs.last_run_at, excluded.last_run_at);
"""

Record = tuple[object, ...]


class TracedEvents(NamedTuple):
    """A message's events and the trace id of the message (None when it carried none)."""

    events: ClassEvents
    trace_id: str | None = None


class EventsWriter:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._known_classes: set[str] = set()
        self._attributes = msgspec.json.Encoder()

    async def write(self, batches: Sequence[ClassEvents | TracedEvents]) -> int:
        """Store every event of ``batches`` atomically; returns how many were new."""
        traced = [b if isinstance(b, TracedEvents) else TracedEvents(b) for b in batches]
        records = self.records(traced)
        if not records:
            return 0
        classes = {batch.events.class_id for batch in traced} - self._known_classes
        async with acquired(self._pool) as conn, conn.transaction():
            if classes:
                await conn.execute(
                    _NEW_CLASSES, list(classes), [secrets.token_hex(16) for _ in classes]
                )
            await conn.copy_records_to_table(STAGING, records=records, columns=STAGING_COLUMNS)
            status = await conn.execute(_CLAIM_IDS)
            new = int(status.rsplit(" ", 1)[-1])
            if new < len(records):
                await conn.execute(_DROP_SEEN)
            if new:
                await conn.execute(_DERIVE)
        self._known_classes |= classes
        return new

    def records(self, batches: Sequence[TracedEvents]) -> list[Record]:
        """One staging row per distinct event id (the first of repeats within the batch)."""
        encode = self._attributes.encode
        rows: dict[object, Record] = {}
        for events, trace_id in batches:
            for event in events.events:
                if event.event_id in rows:
                    continue
                rows[event.event_id] = _row(
                    events.class_id, event, encode(event).decode(), trace_id
                )
        return list(rows.values())


def _row(class_id: str, event: NotebookEvent, attributes: str, trace_id: str | None) -> Record:
    return (
        event.event_time,
        event.event_id,
        class_id,
        event.event_type,
        event.event_type in KNOWN_EVENT_TYPES,
        event.user_id,
        event.notebook_path,
        event.cell_id,
        event.cell_index,
        event.cell_type,
        event.has_error,
        event.error_name,
        event.execution_duration_ms,
        event.execution_count,
        attributes,
        trace_id,
    )
