"""``rpc.query.class.progress``: how far the class has got over time, from the executions.

At each step (60-300 s, aligned to the epoch like the metric buckets; ``time`` is its start),
the furthest cell each student had reached by the end of the step, over the students who had
run at least one cell of the notebook by then: the median, the interquartile range (p25,
p75) and how many students. Steps where nobody had started are left out. The range is
``start``/``end`` when given, else from the first execution to the last one; more than
:data:`~pulse_contracts.classroom.queries.MAX_PROGRESS_STEPS` steps are refused
(``range_too_large``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import asyncpg
from pulse_contracts import RpcError
from pulse_contracts.classroom import ClassProgress, ProgressQuery, ProgressStep
from pulse_contracts.classroom.queries import MAX_PROGRESS_STEPS

from .scope import invalid_range, scope_of

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_SPAN = """
SELECT min(executed_at), max(executed_at) FROM cell_executions
WHERE class_id = $1 AND notebook_path = $2
"""

# Per student and step, the furthest cell so far (a running max); each step then takes every
# student's latest value at or before it.
_STEPS = """
WITH per_step AS (
    SELECT student_id, date_bin($3::interval, executed_at, $4::timestamptz) AS step,
           max(cell_index) AS furthest
    FROM cell_executions
    WHERE class_id = $1 AND notebook_path = $2 AND executed_at < $5
    GROUP BY student_id, step
), so_far AS (
    SELECT step,
           max(furthest) OVER (PARTITION BY student_id ORDER BY step) AS reached,
           lead(step) OVER (PARTITION BY student_id ORDER BY step) AS next_step
    FROM per_step
), steps AS (
    SELECT generate_series($4::timestamptz, $5::timestamptz - $3::interval, $3::interval)
        AS time
)
SELECT steps.time,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY so_far.reached),
       percentile_cont(0.25) WITHIN GROUP (ORDER BY so_far.reached),
       percentile_cont(0.75) WITHIN GROUP (ORDER BY so_far.reached),
       count(*)
FROM steps
JOIN so_far ON so_far.step <= steps.time
           AND (so_far.next_step IS NULL OR so_far.next_step > steps.time)
GROUP BY steps.time
ORDER BY steps.time
"""


def aligned_down(moment: datetime, step_s: int) -> datetime:
    seconds = math.floor((moment - EPOCH).total_seconds() / step_s) * step_s
    return EPOCH + timedelta(seconds=seconds)


async def class_progress(pool: asyncpg.Pool, query: ProgressQuery) -> ClassProgress | RpcError:
    step = timedelta(seconds=query.step_s)
    async with pool.acquire() as conn:
        scope = await scope_of(conn, query.class_id, query.notebook_path)
        if isinstance(scope, RpcError):
            return scope
        empty = ClassProgress(
            class_id=query.class_id,
            notebook_path=scope.notebook_path,
            step_s=query.step_s,
            steps=[],
        )
        if scope.notebook_path is None:
            return empty
        start, end = query.start, query.end
        if start is None or end is None:
            first, last = await conn.fetchrow(_SPAN, query.class_id, scope.notebook_path)
            if first is None:
                return empty
            start = first if start is None else start
            end = last + step if end is None else end
        refused = invalid_range(start, end)
        if refused is not None:
            return refused
        start = aligned_down(start, query.step_s)
        count = math.ceil((end - start) / step)
        if count > MAX_PROGRESS_STEPS:
            return RpcError(
                code="range_too_large",
                message=f"{count} steps of {query.step_s} s; at most {MAX_PROGRESS_STEPS}:"
                " narrow the range or take a longer step",
            )
        rows = await conn.fetch(
            _STEPS, query.class_id, scope.notebook_path, step, start, start + count * step
        )
    return ClassProgress(
        class_id=query.class_id,
        notebook_path=scope.notebook_path,
        step_s=query.step_s,
        steps=[ProgressStep(*row) for row in rows],
    )
