"""``rpc.query.class.overview``: where every student is in one notebook, from each student's
latest state per cell (``cell_states``, one row per student and cell: the writer keeps it, so
this never reads the executions).

Per cell: how many students ran it, and whether their latest run succeeded or failed. Per
student: the furthest cell reached, their last activity in the class, their failed runs in
this notebook, and their state on every cell they reached (the heatmap's row). The overview
is the state now: ``start``/``end`` of the query are not used.
"""

from __future__ import annotations

from collections import Counter

import asyncpg
from pulse_contracts import RpcError
from pulse_contracts.classroom import (
    CellState,
    CellSummary,
    ClassOverview,
    OverviewQuery,
    StudentSummary,
)
from pulse_contracts.classroom.queries import MAX_OVERVIEW_CELLS, MAX_OVERVIEW_STUDENTS

from .scope import scope_of

RAN = "ran"
ERRORED = "errored"

_CELLS = """
SELECT cell_index, cell_id FROM class_cells
WHERE class_id = $1 AND notebook_path = $2 ORDER BY cell_index LIMIT $3
"""

# One row per student of the class, with their states on this notebook's cells as one array
# (500 rows of 100 rather than 50,000 rows: a tenth of the decoding): a cell's index as is
# when its latest run succeeded, else -1 - index, so that one array says both. The array is
# in cell order because its input is (the primary key's order, a sorted subquery, as the
# PostgreSQL manual suggests): an ORDER BY inside array_agg would sort each student's cells
# again, a third of the query's time before PostgreSQL 16.
_STUDENTS = """
SELECT s.student_id, s.last_activity, st.errors, st.cells
FROM class_students s
LEFT JOIN (
    SELECT student_id, sum(errors)::bigint AS errors, array_agg(code) AS cells
    FROM (
        SELECT student_id, errors,
               CASE WHEN last_succeeded THEN cell_index ELSE -1 - cell_index END AS code
        FROM cell_states WHERE class_id = $1 AND notebook_path = $2
        ORDER BY student_id, cell_index
    ) ordered
    GROUP BY student_id
) st USING (student_id)
WHERE s.class_id = $1
ORDER BY s.student_id
LIMIT $3
"""


class _States(dict[int, CellState]):
    """A cell's state by its code, each made once per answer (they are frozen, and shared
    between students: 50,000 states are then a dictionary lookup each)."""

    def __missing__(self, code: int) -> CellState:
        state = CellState(code, RAN) if code >= 0 else CellState(-1 - code, ERRORED)
        self[code] = state
        return state


async def class_overview(pool: asyncpg.Pool, query: OverviewQuery) -> ClassOverview | RpcError:
    async with pool.acquire() as conn:
        scope = await scope_of(conn, query.class_id, query.notebook_path)
        if isinstance(scope, RpcError):
            return scope
        notebook = scope.notebook_path
        if notebook is None:
            return ClassOverview(
                class_id=query.class_id, notebook_path=None, notebooks=[], cells=[], students=[]
            )
        cell_rows = await conn.fetch(_CELLS, query.class_id, notebook, MAX_OVERVIEW_CELLS + 1)
        if len(cell_rows) > MAX_OVERVIEW_CELLS:
            return RpcError(
                code="too_many_cells",
                message=f"the notebook has more than {MAX_OVERVIEW_CELLS} cells",
            )
        student_rows = await conn.fetch(
            _STUDENTS, query.class_id, notebook, MAX_OVERVIEW_STUDENTS + 1
        )
    if len(student_rows) > MAX_OVERVIEW_STUDENTS:
        return RpcError(
            code="too_many_students",
            message=f"the class has more than {MAX_OVERVIEW_STUDENTS} students",
        )
    cell_ids: dict[int, str] = {row[0]: row[1] for row in cell_rows}
    states_of = _States()
    codes_seen: Counter[int] = Counter()
    students: list[StudentSummary] = []
    for student_id, last_activity, errors, codes in student_rows:
        states = [states_of[code] for code in codes] if codes else []
        if codes:
            codes_seen.update(codes)
        students.append(
            StudentSummary(
                student_id=student_id,
                furthest_cell=states[-1].cell_index if states else None,
                last_activity=last_activity,
                error_count=errors or 0,
                cells=states,
            )
        )
    indexes = sorted(cell_ids.keys() | {states_of[code].cell_index for code in codes_seen})
    return ClassOverview(
        class_id=query.class_id,
        notebook_path=notebook,
        notebooks=scope.notebooks,
        cells=[
            CellSummary(
                cell_index=index,
                cell_id=cell_ids.get(index, ""),
                reached=codes_seen[index] + codes_seen[-1 - index],
                succeeded=codes_seen[index],
                errored=codes_seen[-1 - index],
            )
            for index in indexes
        ],
        students=students,
    )
