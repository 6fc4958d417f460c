"""Simulated students: each works through the notebook at their own pace — some faster, some
slower, a few who get stuck on the hard cells — reading, typing, running a cell, reading the
traceback and trying again after an error, now and then restarting their kernel."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from .notebook import Cell, SimulatedNotebook

Kind = Literal["fast", "steady", "slow", "stuck"]
KINDS: tuple[tuple[Kind, float, float], ...] = (
    ("fast", 0.2, 0.55),
    ("steady", 0.5, 1.0),
    ("slow", 0.2, 1.7),
    ("stuck", 0.1, 1.2),
)
"""Each kind of student, its share of the class and its pace (a factor on the time per cell)."""

THINK_S = (4.0, 45.0)
"""Reading and typing before running the next cell, at pace 1 (seconds)."""
RETRY_S = (8.0, 40.0)
"""Reading a traceback and fixing the cell."""
STUCK_S = (60.0, 180.0)
"""A stuck student's long pause on a hard cell."""
RERUN_S = (0.8, 3.0)
"""Re-running the cells above after a kernel restart."""
FINISHED_S = (120.0, 300.0)
"""A student who finished waits this long, restarts the kernel and goes through it again."""
RESTART_RATE = 0.01
"""Chance that a student restarts their kernel instead of running the next cell."""


@dataclass(frozen=True)
class Run:
    """A cell run: what the student did at a moment, for the simulator to report."""

    cell: Cell
    execution_count: int
    error: tuple[str, str] | None
    duration_ms: float


@dataclass(frozen=True)
class Restart:
    pass


@dataclass(frozen=True)
class Opened:
    pass


Action = Run | Restart | Opened


@dataclass
class SimulatedStudent:
    id: str
    kind: Kind
    pace: float
    next_at: float
    """When (seconds of simulated time) the student acts next."""
    cell: int = 0
    execution_count: int = 0
    opened: bool = False
    errors_here: int = 0
    catching_up_to: int | None = None

    def act(
        self, notebook: SimulatedNotebook, now: float, rng: random.Random, speed: float
    ) -> Action:
        """What the student does at ``now``; sets when they act next."""
        if not self.opened:
            self.opened = True
            self.next_at = now + self._wait(THINK_S, rng, speed)
            return Opened()
        if self.cell >= len(notebook.cells):  # finished: go through it again later
            return self._restart(now, rng, speed, catch_up=False, wait=FINISHED_S)
        if self.catching_up_to is None and rng.random() < RESTART_RATE and self.cell > 0:
            return self._restart(now, rng, speed, catch_up=True, wait=RERUN_S)
        return self._run(notebook.cells[self.cell], now, rng, speed)

    def _run(self, cell: Cell, now: float, rng: random.Random, speed: float) -> Run:
        self.execution_count += 1
        catching_up = self.catching_up_to is not None
        error = None
        if not catching_up and rng.random() < self._error_rate(cell):
            error = rng.choice(cell.errors)
        duration = rng.lognormvariate(3.5, 1.0) * (8 if cell.hard else 1)
        if error is not None:
            self.errors_here += 1
            stuck = self.kind == "stuck" and cell.hard and self.errors_here >= 2
            self.next_at = now + self._wait(STUCK_S if stuck else RETRY_S, rng, speed)
        else:
            self.errors_here = 0
            self.cell += 1
            if catching_up and self.cell >= (self.catching_up_to or 0):
                self.catching_up_to = None
            self.next_at = now + self._wait(RERUN_S if catching_up else THINK_S, rng, speed)
        return Run(cell, self.execution_count, error, round(min(duration, 60_000.0), 3))

    def _error_rate(self, cell: Cell) -> float:
        """Errors get rarer with each retry (the student learns), slowly for a stuck one."""
        rate = cell.error_rate
        if self.kind == "stuck" and cell.hard:
            return min(0.9, rate * 1.8) * 0.9**self.errors_here
        return rate * 0.55**self.errors_here

    def _restart(
        self,
        now: float,
        rng: random.Random,
        speed: float,
        *,
        catch_up: bool,
        wait: tuple[float, float],
    ) -> Restart:
        self.catching_up_to = self.cell if catch_up else None
        self.cell = 0
        self.execution_count = 0
        self.errors_here = 0
        self.next_at = now + self._wait(wait, rng, speed)
        return Restart()

    def _wait(self, bounds: tuple[float, float], rng: random.Random, speed: float) -> float:
        return rng.uniform(*bounds) * self.pace / speed


def simulated_students(
    count: int, rng: random.Random, join_within_s: float
) -> list[SimulatedStudent]:
    """``count`` students of mixed kinds, joining within the first ``join_within_s``."""
    kinds = [kind for kind, _, _ in KINDS]
    weights = [share for _, share, _ in KINDS]
    paces = {kind: pace for kind, _, pace in KINDS}
    students = []
    for number in range(1, count + 1):
        kind = rng.choices(kinds, weights)[0]
        students.append(
            SimulatedStudent(
                id=f"student-{number:03d}@demo.pulse",
                kind=kind,
                pace=paces[kind] * rng.lognormvariate(0, 0.2),
                next_at=rng.uniform(0, join_within_s),
            )
        )
    return students
