"""JSON shapes of the classroom REST routes.

Plain contract Structs are answered as they are (:class:`~pulse_contracts.classroom.ClassInfo`,
:class:`~pulse_contracts.classroom.CellSummary`, the hotspots, and the events as producers
send them: :class:`~pulse_contracts.classroom.NotebookEvent`, camelCase). The views' replies
are not: they are tagged (a ``type`` field) and carry array-like rows, which the OpenAPI
document cannot describe; here the heatmap's row of a student is a list of
``[cell_index, state]`` pairs (the same JSON as the contract's) and a progress step an object.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from pulse_contracts.accounts import ApiKey
from pulse_contracts.classroom import (
    CellHotspot,
    CellSummary,
    ClassInfo,
    ClassOverview,
    ClassProgress,
    ErrorHotspot,
    NotebookEvent,
)
from pulse_contracts.classroom.classes import ClassTitle, PlannedCells
from pulse_contracts.classroom.events import ClassId
from pulse_contracts.text import StoredText


class NewClass(msgspec.Struct, frozen=True, kw_only=True):
    """:class:`~pulse_contracts.classroom.CreateClass` as a caller asks it: the owner is the
    instructor who asks; only an admin may name another (or none)."""

    id: ClassId
    title: ClassTitle
    collect_code: bool = False
    pseudonymise: bool = False
    planned_cells: PlannedCells | None = None
    owner_id: StoredText | None = None


class ClassChange(msgspec.Struct, frozen=True, kw_only=True):
    """:class:`~pulse_contracts.classroom.UpdateClass` without the id (the path has it) and
    the key (``POST .../key`` changes it); ``owner_id`` is an admin's to change."""

    title: ClassTitle | None = None
    collect_code: bool | None = None
    pseudonymise: bool | None = None
    planned_cells: PlannedCells | None = None
    owner_id: StoredText | None = None


class ClassOut(msgspec.Struct, frozen=True, kw_only=True):
    class_: ClassInfo = msgspec.field(name="class")


class ClassesOut(msgspec.Struct, frozen=True, kw_only=True):
    classes: list[ClassInfo]


class ClassKey(msgspec.Struct, frozen=True, kw_only=True):
    """The class's producer key (scope ``ingest:events``, its ``class_id`` set); ``secret``
    is shown this once, Pulse keeps only its hash."""

    api_key: ApiKey
    secret: str


class CreatedClass(msgspec.Struct, frozen=True, kw_only=True):
    class_: ClassInfo = msgspec.field(name="class")
    api_key: ApiKey
    secret: str


class StudentRow(msgspec.Struct, frozen=True, kw_only=True):
    """One student in the overview: ``cells`` is their row of the heatmap, a
    ``[cell_index, "ran" | "errored"]`` pair per cell they reached (their latest run)."""

    student_id: str
    furthest_cell: int | None
    last_activity: datetime | None
    error_count: int
    cells: list[tuple[int, str]]


class OverviewOut(msgspec.Struct, frozen=True, kw_only=True):
    class_id: str
    notebook_path: str | None
    notebooks: list[str]
    cells: list[CellSummary]
    students: list[StudentRow]

    @classmethod
    def of(cls, overview: ClassOverview) -> OverviewOut:
        return cls(
            class_id=overview.class_id,
            notebook_path=overview.notebook_path,
            notebooks=overview.notebooks,
            cells=overview.cells,
            students=[
                StudentRow(
                    student_id=s.student_id,
                    furthest_cell=s.furthest_cell,
                    last_activity=s.last_activity,
                    error_count=s.error_count,
                    cells=[(c.cell_index, c.state) for c in s.cells],
                )
                for s in overview.students
            ],
        )


class ProgressStepOut(msgspec.Struct, frozen=True, kw_only=True):
    """At ``time`` (the step's start), over the students who had started by the step's end:
    the median cell reached, the interquartile range, and how many students."""

    time: datetime
    median: float
    p25: float
    p75: float
    students: int


class ProgressOut(msgspec.Struct, frozen=True, kw_only=True):
    class_id: str
    notebook_path: str | None
    step_s: int
    steps: list[ProgressStepOut]

    @classmethod
    def of(cls, progress: ClassProgress) -> ProgressOut:
        return cls(
            class_id=progress.class_id,
            notebook_path=progress.notebook_path,
            step_s=progress.step_s,
            steps=[
                ProgressStepOut(
                    time=s.time, median=s.median, p25=s.p25, p75=s.p75, students=s.students
                )
                for s in progress.steps
            ],
        )


class HotspotsOut(msgspec.Struct, frozen=True, kw_only=True):
    class_id: str
    notebook_path: str | None
    cells: list[CellHotspot]
    errors: list[ErrorHotspot]


class TimelineOut(msgspec.Struct, frozen=True, kw_only=True):
    class_id: str
    student_id: str
    events: list[NotebookEvent]
    truncated: bool
    """Earlier events were left out (the latest ``limit`` are here)."""


class FeedOut(msgspec.Struct, frozen=True, kw_only=True):
    class_id: str
    events: list[NotebookEvent]
    """The latest events, newest last."""
