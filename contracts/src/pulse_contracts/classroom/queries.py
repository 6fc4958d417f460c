"""The class views, answered by persistence over ``rpc.query.class.<view>``: the overview of
one notebook, progress over time, error hotspots, one student's timeline, and the recent feed.

Every answer is bounded: a question over too much (too many students or cells, too long a
range, too small a step) is refused with a stable ``RpcError`` code instead of a slow answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from pulse_contracts.rpc import RpcError

from .events import ClassId, NotebookEvent, NotebookPath, StudentId

StepSeconds = Annotated[int, msgspec.Meta(ge=60, le=300)]
FeedLimit = Annotated[int, msgspec.Meta(ge=1, le=1_000)]

MAX_OVERVIEW_STUDENTS = 2_000
MAX_OVERVIEW_CELLS = 1_000
MAX_TIMELINE_EVENTS = 5_000
MAX_PROGRESS_STEPS = 2_000


class ClassQuery(msgspec.Struct, frozen=True, kw_only=True):
    class_id: ClassId
    notebook_path: NotebookPath | None = None
    """The notebook asked about; None: the class's most active notebook."""
    start: datetime | None = None
    end: datetime | None = None
    part_bytes: int = 0
    """The asker takes an answer larger than one NATS message in parts of this size (ADR 12);
    0: it takes none."""


class OverviewQuery(ClassQuery, frozen=True, kw_only=True, tag="class_overview"):
    pass


class CellSummary(msgspec.Struct, frozen=True, kw_only=True):
    cell_index: int
    cell_id: str
    reached: int
    """Students who executed this cell at least once."""
    succeeded: int
    errored: int
    """Students whose latest execution of this cell failed."""


class CellState(msgspec.Struct, frozen=True, array_like=True):
    """One student's state on one cell: ``ran`` or ``errored`` (latest execution); not
    reached cells are absent."""

    cell_index: int
    state: str


class StudentSummary(msgspec.Struct, frozen=True, kw_only=True):
    student_id: str
    furthest_cell: int | None
    last_activity: datetime | None
    error_count: int
    cells: list[CellState]


class ClassOverview(msgspec.Struct, frozen=True, kw_only=True, tag="class_overview_result"):
    class_id: str
    notebook_path: str | None
    notebooks: list[str]
    cells: list[CellSummary]
    students: list[StudentSummary]


class ProgressQuery(ClassQuery, frozen=True, kw_only=True, tag="class_progress"):
    step_s: StepSeconds = 60


class ProgressStep(msgspec.Struct, frozen=True, array_like=True):
    """At ``time``: the cell reached by the median student and the interquartile range, over
    the students active so far."""

    time: datetime
    median: float
    p25: float
    p75: float
    students: int


class ClassProgress(msgspec.Struct, frozen=True, kw_only=True, tag="class_progress_result"):
    class_id: str
    notebook_path: str | None
    step_s: int
    steps: list[ProgressStep]


class HotspotsQuery(ClassQuery, frozen=True, kw_only=True, tag="class_hotspots"):
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20


class CellHotspot(msgspec.Struct, frozen=True, kw_only=True):
    cell_index: int
    cell_id: str
    errors: int
    students: int


class ErrorHotspot(msgspec.Struct, frozen=True, kw_only=True):
    error_name: str
    errors: int
    students: int


class ClassHotspots(msgspec.Struct, frozen=True, kw_only=True, tag="class_hotspots_result"):
    class_id: str
    notebook_path: str | None
    cells: list[CellHotspot]
    errors: list[ErrorHotspot]


class TimelineQuery(ClassQuery, frozen=True, kw_only=True, tag="class_timeline"):
    student_id: StudentId
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_TIMELINE_EVENTS)] = 1_000


class StudentTimeline(msgspec.Struct, frozen=True, kw_only=True, tag="class_timeline_result"):
    class_id: str
    student_id: str
    events: list[NotebookEvent]
    truncated: bool = False


class FeedQuery(msgspec.Struct, frozen=True, kw_only=True, tag="class_feed"):
    """The class's latest events, newest last (the live channel's history)."""

    class_id: ClassId
    limit: FeedLimit = 100
    before: datetime | None = None
    part_bytes: int = 0
    """As :attr:`ClassQuery.part_bytes`."""


class ClassFeed(msgspec.Struct, frozen=True, kw_only=True, tag="class_feed_result"):
    class_id: str
    events: list[NotebookEvent]


ClassQueryRequest = OverviewQuery | ProgressQuery | HotspotsQuery | TimelineQuery | FeedQuery
ClassQueryReply = (
    ClassOverview | ClassProgress | ClassHotspots | StudentTimeline | ClassFeed | RpcError
)

CLASS_QUERY_VIEWS: dict[type[ClassQueryRequest], str] = {
    OverviewQuery: "overview",
    ProgressQuery: "progress",
    HotspotsQuery: "hotspots",
    TimelineQuery: "timeline",
    FeedQuery: "feed",
}
