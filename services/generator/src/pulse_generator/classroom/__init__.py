"""The simulated class: students (:mod:`.students`) working through a notebook
(:mod:`.notebook`), reported as a real notebook producer's events (:mod:`.simulator`), published
by :mod:`.publisher`."""

from .notebook import SimulatedNotebook, simulated_notebook
from .publisher import ClassPublisher
from .simulator import ClassSimulator
from .students import SimulatedStudent, simulated_students

__all__ = [
    "ClassPublisher",
    "ClassSimulator",
    "SimulatedNotebook",
    "SimulatedStudent",
    "simulated_notebook",
    "simulated_students",
]
