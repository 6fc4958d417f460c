"""``rpc.query.class.overview``: where every student is in one notebook, from each student's
latest state per cell (``cell_states``, one row per student and cell: the writer keeps it, so
this never reads the executions).

Per cell: how many students ran it, and whether their latest run succeeded or failed. Per
student: the furthest cell reached, their last activity in the class, their failed runs in
this notebook, and their state on every cell they reached (the heatmap's row). The overview
is the state now: ``start``/``end`` of the query are not used.
"""

from __future__ import annotations

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

# One row per student of the class, with their states on this notebook's cells as two arrays
# (500 rows of 100 rather than 50,000 rows: a tenth of the decoding).
_STUDENTS = """
SELECT s.student_id, s.last_activity, st.errors, st.cells, st.succeeded
FROM class_students s
LEFT JOIN (
    SELECT student_id, sum(errors)::bigint AS errors,
           array_agg(cell_index ORDER BY cell_index) AS cells,
           array_agg(last_succeeded ORDER BY cell_index) AS succeeded
    FROM cell_states WHERE class_id = $1 AND notebook_path = $2
    GROUP BY student_id
) st USING (student_id)
WHERE s.class_id = $1
ORDER BY s.student_id
LIMIT $3
"""


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
    reached: dict[int, int] = dict.fromkeys(cell_ids, 0)
    succeeded: dict[int, int] = dict.fromkeys(cell_ids, 0)
    students: list[StudentSummary] = []
    for student_id, last_activity, errors, cells, oks in student_rows:
        states: list[CellState] = []
        if cells:
            for index, ok in zip(cells, oks, strict=True):
                states.append(CellState(index, RAN if ok else ERRORED))
                reached[index] = reached.get(index, 0) + 1
                if ok:
                    succeeded[index] = succeeded.get(index, 0) + 1
        students.append(
            StudentSummary(
                student_id=student_id,
                furthest_cell=cells[-1] if cells else None,
                last_activity=last_activity,
                error_count=errors or 0,
                cells=states,
            )
        )
    return ClassOverview(
        class_id=query.class_id,
        notebook_path=notebook,
        notebooks=scope.notebooks,
        cells=[
            CellSummary(
                cell_index=index,
                cell_id=cell_ids.get(index, ""),
                reached=reached[index],
                succeeded=succeeded.get(index, 0),
                errored=reached[index] - succeeded.get(index, 0),
            )
            for index in sorted(reached)
        ],
        students=students,
    )
