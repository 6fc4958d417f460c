"""What the classroom conditions need to know of a class, kept from its live events: each
student's last event, furthest cell and errors per cell since the cell last ran cleanly."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

SESSION_GAP_S = 3600.0
"""A class with no event for this long starts a new session at its next event: its students
and its plan's clock start again."""


@dataclass(slots=True)
class StudentActivity:
    last_event: float
    furthest_cell: int = 0
    """Cells reached: the highest cell index run, plus one."""
    errors: dict[str, int] = field(default_factory=dict)
    """Per cell id: failed runs since it last ran cleanly."""


@dataclass(slots=True)
class ClassActivity:
    session_start: float | None = None
    last_event: float | None = None
    planned_cells: int | None = None
    students: dict[str, StudentActivity] = field(default_factory=dict)

    def seen(self, student: str, now: float) -> StudentActivity:
        if self.last_event is None or now - self.last_event >= SESSION_GAP_S:
            self.session_start = now
            self.students.clear()
        self.last_event = now
        activity = self.students.get(student)
        if activity is None:
            activity = self.students[student] = StudentActivity(last_event=now)
        activity.last_event = now
        return activity

    def cells_behind(self, now: float, plan_minutes: float) -> float | None:
        """How far the median student is behind the plan now; None without a plan or
        students."""
        if not self.planned_cells or self.session_start is None or not self.students:
            return None
        elapsed = max(0.0, now - self.session_start)
        planned = min(1.0, elapsed / (plan_minutes * 60.0)) * self.planned_cells
        median = statistics.median(s.furthest_cell for s in self.students.values())
        return planned - median
