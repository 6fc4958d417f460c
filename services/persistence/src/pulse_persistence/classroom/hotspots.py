"""``rpc.query.class.hotspots``: where the class fails: the cells of one notebook and the
error names, each ranked by failed runs (then by students who failed, then by cell or name),
within ``start``/``end`` when given."""

from __future__ import annotations

import asyncpg
from pulse_contracts import RpcError
from pulse_contracts.classroom import CellHotspot, ClassHotspots, ErrorHotspot, HotspotsQuery

from .scope import invalid_range, scope_of

UNNAMED = "(unnamed)"
"""The name of a failure whose producer gave none."""

_RANGE = (
    "($3::timestamptz IS NULL OR e.executed_at >= $3)"
    " AND ($4::timestamptz IS NULL OR e.executed_at < $4)"
)

_CELLS = f"""
SELECT e.cell_index, coalesce(min(c.cell_id), ''), count(*), count(DISTINCT e.student_id)
FROM cell_executions e
LEFT JOIN class_cells c USING (class_id, notebook_path, cell_index)
WHERE e.class_id = $1 AND e.notebook_path = $2 AND NOT e.succeeded AND {_RANGE}
GROUP BY e.cell_index
ORDER BY count(*) DESC, count(DISTINCT e.student_id) DESC, e.cell_index
LIMIT $5
"""

_ERRORS = f"""
SELECT coalesce(e.error_name, '{UNNAMED}') AS name, count(*), count(DISTINCT e.student_id)
FROM cell_executions e
WHERE e.class_id = $1 AND e.notebook_path = $2 AND NOT e.succeeded AND {_RANGE}
GROUP BY name
ORDER BY count(*) DESC, count(DISTINCT e.student_id) DESC, name
LIMIT $5
"""


async def class_hotspots(pool: asyncpg.Pool, query: HotspotsQuery) -> ClassHotspots | RpcError:
    refused = invalid_range(query.start, query.end)
    if refused is not None:
        return refused
    async with pool.acquire() as conn:
        scope = await scope_of(conn, query.class_id, query.notebook_path)
        if isinstance(scope, RpcError):
            return scope
        if scope.notebook_path is None:
            return ClassHotspots(class_id=query.class_id, notebook_path=None, cells=[], errors=[])
        args = (query.class_id, scope.notebook_path, query.start, query.end, query.limit)
        cells = await conn.fetch(_CELLS, *args)
        errors = await conn.fetch(_ERRORS, *args)
    return ClassHotspots(
        class_id=query.class_id,
        notebook_path=scope.notebook_path,
        cells=[
            CellHotspot(cell_index=row[0], cell_id=row[1], errors=row[2], students=row[3])
            for row in cells
        ],
        errors=[ErrorHotspot(error_name=row[0], errors=row[1], students=row[2]) for row in errors],
    )
