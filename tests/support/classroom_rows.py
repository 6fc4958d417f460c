"""Fixed classroom rows written straight into the tables the class views read (the schema is
migration 0004's), so that each view's answer can be checked exactly."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec
from pulse_contracts.classroom import NotebookEvent

T0 = datetime(2026, 12, 1, 10, tzinfo=UTC)
LESSON = "lesson.ipynb"
EXTRA = "extra.ipynb"


@dataclass(frozen=True)
class Run:
    """One event: a cell run (``cell`` given) or another event type."""

    second: int
    student: str
    cell: int | None = None
    ok: bool = True
    error: str | None = None
    notebook: str = LESSON
    event_type: str = "cell_executed"

    def event(self, class_id: str, number: int) -> NotebookEvent:
        return NotebookEvent(
            event_id=uuid.UUID(int=number + 1),
            event_type=self.event_type,
            event_time=T0 + timedelta(seconds=self.second),
            user_id=self.student,
            class_id=class_id,
            notebook_path=self.notebook,
            cell_id=None if self.cell is None else f"c{self.cell}",
            cell_index=self.cell,
            has_error=not self.ok,
            error_name=self.error,
        )


# alice: 0, 1, 2 (fails once, then succeeds), then a cell of another notebook; bob: 0, then
# fails 1 twice; carol: fails 0; dave: opened the notebook, ran nothing.
RUNS = [
    Run(0, "alice", 0),
    Run(10, "dave", event_type="notebook_opened"),
    Run(30, "bob", 0),
    Run(60, "alice", 1),
    Run(90, "bob", 1, ok=False, error="ValueError"),
    Run(130, "alice", 2, ok=False, error="NameError"),
    Run(150, "bob", 1, ok=False, error="ValueError"),
    Run(200, "alice", 2),
    Run(250, "carol", 0, ok=False, error="NameError"),
    Run(300, "alice", 0, notebook=EXTRA),
]


async def create_class(
    conn: asyncpg.Connection | asyncpg.Pool,
    class_id: str,
    *,
    owner_id: str | None = None,
    pseudonymise: bool = False,
) -> None:
    await conn.execute(
        "INSERT INTO classes (id, title, owner_id, pseudonymise, salt) VALUES ($1, $1, $2, $3, $4)",
        class_id,
        owner_id,
        pseudonymise,
        f"salt-of-{class_id}",
    )


async def write_runs(
    conn: asyncpg.Connection | asyncpg.Pool, class_id: str, runs: Sequence[Run] = RUNS
) -> list[NotebookEvent]:
    """Every table the pipeline's writer fills, filled as it would for ``runs``."""
    events = [run.event(class_id, number) for number, run in enumerate(runs)]
    encode = msgspec.json.encode
    await conn.executemany(
        "INSERT INTO class_events (event_time, event_id, class_id, event_type, student_id,"
        " notebook_path, cell_index, has_error, attributes)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [
            (
                e.event_time,
                e.event_id,
                class_id,
                e.event_type,
                e.user_id,
                e.notebook_path,
                e.cell_index,
                e.has_error,
                encode(e).decode(),
            )
            for e in events
        ],
    )
    await conn.execute(
        "INSERT INTO class_students (class_id, student_id, first_seen, last_activity)"
        " SELECT class_id, student_id, min(event_time), max(event_time) FROM class_events"
        " WHERE class_id = $1 GROUP BY class_id, student_id",
        class_id,
    )
    await conn.execute(
        "INSERT INTO class_notebooks (class_id, notebook_path, first_seen, last_activity, events)"
        " SELECT class_id, notebook_path, min(event_time), max(event_time), count(*)"
        " FROM class_events WHERE class_id = $1 GROUP BY class_id, notebook_path",
        class_id,
    )
    await conn.execute(
        "INSERT INTO class_cells (class_id, notebook_path, cell_index, cell_id)"
        " SELECT DISTINCT class_id, notebook_path, cell_index, 'c' || cell_index"
        " FROM class_events WHERE class_id = $1 AND cell_index IS NOT NULL",
        class_id,
    )
    await conn.execute(
        "INSERT INTO cell_executions (executed_at, event_id, class_id, notebook_path,"
        " cell_index, student_id, succeeded, error_name)"
        " SELECT event_time, event_id, class_id, notebook_path, cell_index, student_id,"
        " NOT has_error, attributes->>'errorName' FROM class_events"
        " WHERE class_id = $1 AND event_type = 'cell_executed'",
        class_id,
    )
    await conn.execute(
        "INSERT INTO cell_states (class_id, notebook_path, student_id, cell_index, runs, errors,"
        " last_succeeded, first_run_at, last_run_at)"
        " SELECT class_id, notebook_path, student_id, cell_index, count(*),"
        " count(*) FILTER (WHERE NOT succeeded),"
        " (array_agg(succeeded ORDER BY executed_at DESC))[1], min(executed_at), max(executed_at)"
        " FROM cell_executions WHERE class_id = $1"
        " GROUP BY class_id, notebook_path, student_id, cell_index",
        class_id,
    )
    return events
