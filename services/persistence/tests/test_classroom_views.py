"""The class views and the classes verbs against a real database, with fixed rows: exact
answers, the same on plain PostgreSQL and TimescaleDB (``PULSE_TEST_DATABASE_URL``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg
import msgspec
import pytest
from pulse_contracts import RpcError
from pulse_contracts.classroom import (
    CellHotspot,
    CellState,
    CellSummary,
    ClassFeed,
    ClassHotspots,
    ClassOverview,
    ClassProgress,
    ErrorHotspot,
    FeedQuery,
    HotspotsQuery,
    OverviewQuery,
    ProgressQuery,
    ProgressStep,
    StudentSummary,
    StudentTimeline,
    TimelineQuery,
)
from pulse_contracts.classroom.queries import MAX_PROGRESS_STEPS
from pulse_persistence.classroom.feed import class_feed
from pulse_persistence.classroom.hotspots import class_hotspots
from pulse_persistence.classroom.overview import class_overview
from pulse_persistence.classroom.progress import class_progress
from pulse_persistence.classroom.timeline import student_timeline
from pulse_persistence.schema import migrate, prepare_connection
from pulse_runtime.database import create_pool

from tests.support.classroom_rows import EXTRA, LESSON, T0, create_class, write_runs

pytestmark = pytest.mark.integration

CLASS = "algebra-1"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=4, init=prepare_connection)
    async with pool.acquire() as conn:
        await migrate(conn)
        await create_class(conn, CLASS)
        await write_runs(conn, CLASS)
        # A cell nobody reached yet.
        await conn.execute(
            "INSERT INTO class_cells (class_id, notebook_path, cell_index, cell_id)"
            " VALUES ($1, $2, 3, 'c3')",
            CLASS,
            LESSON,
        )
    yield pool
    await pool.close()


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def test_overview_counts_each_cell_and_places_each_student(pool: asyncpg.Pool) -> None:
    overview = await class_overview(pool, OverviewQuery(class_id=CLASS))
    assert overview == ClassOverview(
        class_id=CLASS,
        notebook_path=LESSON,  # the most active notebook, by default
        notebooks=[LESSON, EXTRA],
        cells=[
            CellSummary(cell_index=0, cell_id="c0", reached=3, succeeded=2, errored=1),
            CellSummary(cell_index=1, cell_id="c1", reached=2, succeeded=1, errored=1),
            CellSummary(cell_index=2, cell_id="c2", reached=1, succeeded=1, errored=0),
            CellSummary(cell_index=3, cell_id="c3", reached=0, succeeded=0, errored=0),
        ],
        students=[
            StudentSummary(
                student_id="alice",
                furthest_cell=2,
                last_activity=at(300),  # in the other notebook: activity in the class
                error_count=1,
                cells=[CellState(0, "ran"), CellState(1, "ran"), CellState(2, "ran")],
            ),
            StudentSummary(
                student_id="bob",
                furthest_cell=1,
                last_activity=at(150),
                error_count=2,
                cells=[CellState(0, "ran"), CellState(1, "errored")],
            ),
            StudentSummary(
                student_id="carol",
                furthest_cell=0,
                last_activity=at(250),
                error_count=1,
                cells=[CellState(0, "errored")],
            ),
            StudentSummary(
                student_id="dave", furthest_cell=None, last_activity=at(10), error_count=0, cells=[]
            ),
        ],
    )


async def test_overview_of_a_named_notebook_and_of_a_class_without_events(
    pool: asyncpg.Pool,
) -> None:
    extra = await class_overview(pool, OverviewQuery(class_id=CLASS, notebook_path=EXTRA))
    assert isinstance(extra, ClassOverview)
    assert extra.cells == [
        CellSummary(cell_index=0, cell_id="c0", reached=1, succeeded=1, errored=0)
    ]
    assert [(s.student_id, s.furthest_cell) for s in extra.students] == [
        ("alice", 0),
        ("bob", None),
        ("carol", None),
        ("dave", None),
    ]
    await create_class(pool, "empty")
    assert await class_overview(pool, OverviewQuery(class_id="empty")) == ClassOverview(
        class_id="empty", notebook_path=None, notebooks=[], cells=[], students=[]
    )


async def test_every_view_refuses_an_unknown_class(pool: asyncpg.Pool) -> None:
    refused = RpcError(code="class_not_found", message="no class 'nope'")
    assert await class_overview(pool, OverviewQuery(class_id="nope")) == refused
    assert await class_progress(pool, ProgressQuery(class_id="nope")) == refused
    assert await class_hotspots(pool, HotspotsQuery(class_id="nope")) == refused
    assert await student_timeline(pool, TimelineQuery(class_id="nope", student_id="a")) == refused
    assert await class_feed(pool, FeedQuery(class_id="nope")) == refused


async def test_progress_is_the_median_and_iqr_of_the_furthest_cell_so_far(
    pool: asyncpg.Pool,
) -> None:
    progress = await class_progress(pool, ProgressQuery(class_id=CLASS, step_s=60))
    assert progress == ClassProgress(
        class_id=CLASS,
        notebook_path=LESSON,
        step_s=60,
        steps=[
            ProgressStep(at(0), 0.0, 0.0, 0.0, 2),  # alice and bob on cell 0
            ProgressStep(at(60), 1.0, 1.0, 1.0, 2),  # both ran cell 1 (bob failed it)
            ProgressStep(at(120), 1.5, 1.25, 1.75, 2),  # alice on 2
            ProgressStep(at(180), 1.5, 1.25, 1.75, 2),
            ProgressStep(at(240), 1.0, 0.5, 1.5, 3),  # carol starts
            ProgressStep(at(300), 1.0, 0.5, 1.5, 3),
        ],
    )


async def test_progress_within_a_range_counts_what_came_before_it(pool: asyncpg.Pool) -> None:
    progress = await class_progress(
        pool, ProgressQuery(class_id=CLASS, step_s=120, start=at(150), end=at(360))
    )
    assert isinstance(progress, ClassProgress)
    # 150 is aligned down to 120; the step at 120 ends at 240, before carol starts.
    assert progress.steps == [
        ProgressStep(at(120), 1.5, 1.25, 1.75, 2),
        ProgressStep(at(240), 1.0, 0.5, 1.5, 3),
    ]


async def test_progress_refuses_too_many_steps_and_an_empty_range(pool: asyncpg.Pool) -> None:
    too_long = ProgressQuery(
        class_id=CLASS, step_s=60, start=at(0), end=at(60 * (MAX_PROGRESS_STEPS + 1))
    )
    assert await class_progress(pool, too_long) == RpcError(
        code="range_too_large",
        message=f"{MAX_PROGRESS_STEPS + 1} steps of 60 s; at most {MAX_PROGRESS_STEPS}:"
        " narrow the range or take a longer step",
    )
    just_fits = ProgressQuery(
        class_id=CLASS, step_s=60, start=at(0), end=at(60 * MAX_PROGRESS_STEPS)
    )
    answer = await class_progress(pool, just_fits)
    assert isinstance(answer, ClassProgress)
    assert len(answer.steps) == MAX_PROGRESS_STEPS  # every step after the last run repeats it


async def test_every_view_with_a_range_refuses_an_empty_one(pool: asyncpg.Pool) -> None:
    refused = RpcError(code="invalid_range", message="'start' must be earlier than 'end'")
    start = end = at(60)
    progress = ProgressQuery(class_id=CLASS, start=start, end=end)
    assert await class_progress(pool, progress) == refused
    hotspots = HotspotsQuery(class_id=CLASS, start=start, end=end)
    assert await class_hotspots(pool, hotspots) == refused
    timeline = TimelineQuery(class_id=CLASS, student_id="alice", start=start, end=end)
    assert await student_timeline(pool, timeline) == refused


async def test_progress_step_is_bounded_by_the_contract() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"Expected `int` >= 60"):
        msgspec.convert({"class_id": CLASS, "step_s": 30}, ProgressQuery)
    with pytest.raises(msgspec.ValidationError, match=r"Expected `int` <= 300"):
        msgspec.convert({"class_id": CLASS, "step_s": 301}, ProgressQuery)


async def test_hotspots_rank_cells_and_error_names_by_failures(pool: asyncpg.Pool) -> None:
    hotspots = await class_hotspots(pool, HotspotsQuery(class_id=CLASS))
    assert hotspots == ClassHotspots(
        class_id=CLASS,
        notebook_path=LESSON,
        cells=[
            CellHotspot(cell_index=1, cell_id="c1", errors=2, students=1),
            CellHotspot(cell_index=0, cell_id="c0", errors=1, students=1),
            CellHotspot(cell_index=2, cell_id="c2", errors=1, students=1),
        ],
        errors=[
            ErrorHotspot(error_name="NameError", errors=2, students=2),
            ErrorHotspot(error_name="ValueError", errors=2, students=1),
        ],
    )
    top = await class_hotspots(pool, HotspotsQuery(class_id=CLASS, limit=1, start=at(100)))
    assert isinstance(top, ClassHotspots)
    assert top.cells == [CellHotspot(cell_index=0, cell_id="c0", errors=1, students=1)]
    assert top.errors == [ErrorHotspot(error_name="NameError", errors=2, students=2)]


async def test_timeline_is_one_students_latest_events_as_sent(pool: asyncpg.Pool) -> None:
    stored = await pool.fetch(
        "SELECT attributes FROM class_events WHERE student_id = 'alice' ORDER BY event_time"
    )
    sent = [msgspec.json.decode(row[0]) for row in stored]
    whole = await student_timeline(pool, TimelineQuery(class_id=CLASS, student_id="alice"))
    assert isinstance(whole, StudentTimeline)
    assert not whole.truncated
    assert [msgspec.to_builtins(e) for e in whole.events] == sent
    assert [e.event_time for e in whole.events] == [at(0), at(60), at(130), at(200), at(300)]
    latest = await student_timeline(
        pool, TimelineQuery(class_id=CLASS, student_id="alice", limit=3)
    )
    assert latest == StudentTimeline(
        class_id=CLASS, student_id="alice", events=whole.events[2:], truncated=True
    )
    exact = await student_timeline(pool, TimelineQuery(class_id=CLASS, student_id="alice", limit=5))
    assert isinstance(exact, StudentTimeline)
    assert not exact.truncated
    one_notebook = await student_timeline(
        pool, TimelineQuery(class_id=CLASS, student_id="alice", notebook_path=EXTRA)
    )
    assert isinstance(one_notebook, StudentTimeline)
    assert [e.event_time for e in one_notebook.events] == [at(300)]
    nobody = await student_timeline(pool, TimelineQuery(class_id=CLASS, student_id="zoe"))
    assert nobody == StudentTimeline(class_id=CLASS, student_id="zoe", events=[])


async def test_feed_is_the_latest_events_newest_last(pool: asyncpg.Pool) -> None:
    feed = await class_feed(pool, FeedQuery(class_id=CLASS, limit=2))
    assert isinstance(feed, ClassFeed)
    assert [(e.user_id, e.event_time) for e in feed.events] == [
        ("carol", at(250)),
        ("alice", at(300)),
    ]
    earlier = await class_feed(pool, FeedQuery(class_id=CLASS, limit=2, before=at(250)))
    assert isinstance(earlier, ClassFeed)
    assert [(e.user_id, e.event_time) for e in earlier.events] == [
        ("bob", at(150)),
        ("alice", at(200)),
    ]
    everything = await class_feed(pool, FeedQuery(class_id=CLASS))
    assert isinstance(everything, ClassFeed)
    assert len(everything.events) == 10
