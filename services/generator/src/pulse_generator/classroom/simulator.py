"""The class simulator: students working through the notebook, turned into the events a real
notebook producer sends (the camelCase JSON of ``pulse_contracts.classroom.NotebookEvent``,
with ``classId``, which producers on NATS must give).

Simulated time is seconds since the class started; :meth:`ClassSimulator.advance` plays every
action due up to a moment, in time order. With the same seed and the same calls, the same
events come out, ids included.
"""

from __future__ import annotations

import heapq
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from .notebook import SimulatedNotebook, simulated_notebook
from .students import Action, Opened, Restart, Run, SimulatedStudent, simulated_students

JOIN_WITHIN_S = 10.0
"""Students open the notebook within this (at speed 1) of the start."""


class ClassSimulator:
    def __init__(
        self,
        *,
        class_id: str,
        students: int,
        cells: int,
        speed: float,
        started_at: datetime,
        rng: random.Random,
    ) -> None:
        self.class_id = class_id
        self.speed = speed
        self.started_at = started_at
        self._rng = rng
        self.notebook: SimulatedNotebook = simulated_notebook(cells, rng)
        self.students: list[SimulatedStudent] = simulated_students(
            students, rng, JOIN_WITHIN_S / speed
        )
        self._due = [(student.next_at, number) for number, student in enumerate(self.students)]
        heapq.heapify(self._due)

    def advance(self, elapsed_s: float) -> list[dict[str, Any]]:
        """The events of every action due by ``elapsed_s`` seconds after the start."""
        events = []
        while self._due and self._due[0][0] <= elapsed_s:
            at, number = heapq.heappop(self._due)
            student = self.students[number]
            action = student.act(self.notebook, at, self._rng, self.speed)
            events.append(self._event(student, action, at))
            heapq.heappush(self._due, (student.next_at, number))
        return events

    def _event(self, student: SimulatedStudent, action: Action, at: float) -> dict[str, Any]:
        event: dict[str, Any] = {
            "eventId": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            "eventType": "",
            "eventTime": (self.started_at + timedelta(seconds=at)).isoformat(),
            "userId": student.id,
            "classId": self.class_id,
            "notebookPath": self.notebook.path,
            "metadata": {"producer": "pulse-generator", "student_kind": student.kind},
        }
        if isinstance(action, Opened):
            event["eventType"] = "notebook_opened"
        elif isinstance(action, Restart):
            event["eventType"] = "kernel_restarted"
        elif isinstance(action, Run):
            event.update(
                eventType="cell_executed",
                cellId=action.cell.id,
                cellIndex=action.cell.index,
                cellType="code",
                executionCount=action.execution_count,
                hasError=action.error is not None,
                executionDurationMs=action.duration_ms,
            )
            if action.error is not None:
                event["errorName"], event["errorMessage"] = action.error
        return event
