"""The simulated class's notebook: M code cells, a few of them hard (students err there
more often), each with the code a student would type and the errors they would make."""

from __future__ import annotations

import random
from dataclasses import dataclass

EASY_ERROR_RATE = 0.04
HARD_ERROR_RATE = 0.45
HARD_SHARE = 0.15
"""About this share of the cells is hard (at least one, never the first)."""

CELL_CODE = (
    "import pandas as pd\nimport numpy as np",
    "df = pd.read_csv('measurements.csv')\ndf.head()",
    "df.describe()",
    "df = df.dropna(subset=['value'])",
    "df['value_c'] = (df['value'] - 32) * 5 / 9",
    "by_site = df.groupby('site')['value_c'].mean()\nby_site",
    "def normalise(xs):\n    lo, hi = min(xs), max(xs)\n"
    "    return [(x - lo) / (hi - lo) for x in xs]",
    "scores = normalise(df['value_c'].tolist())",
    "counts = {}\nfor site in df['site']:\n    counts[site] = counts.get(site, 0) + 1",
    "top = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)[:5]\ntop",
    "import matplotlib.pyplot as plt\ndf.plot(x='time', y='value_c')",
    "mask = df['value_c'] > df['value_c'].quantile(0.95)\ndf[mask]",
    "weekly = df.resample('W', on='time')['value_c'].agg(['min', 'max'])",
)

HARD_ERRORS = (
    ("NameError", "name 'df_clean' is not defined"),
    ("TypeError", "unsupported operand type(s) for -: 'str' and 'int'"),
    ("ValueError", "could not convert string to float: 'n/a'"),
    ("KeyError", "'value_c'"),
    ("IndexError", "list index out of range"),
    ("ZeroDivisionError", "division by zero"),
    ("AttributeError", "'list' object has no attribute 'mean'"),
)
EASY_ERRORS = (
    ("NameError", "name 'pd' is not defined"),
    ("SyntaxError", "invalid syntax"),
    ("TypeError", "'int' object is not iterable"),
)


@dataclass(frozen=True)
class Cell:
    index: int
    id: str
    code: str
    hard: bool
    error_rate: float
    errors: tuple[tuple[str, str], ...]
    """The errors students make here, as (errorName, errorMessage)."""


@dataclass(frozen=True)
class SimulatedNotebook:
    path: str
    cells: tuple[Cell, ...]

    @property
    def hard_cells(self) -> list[int]:
        return [cell.index for cell in self.cells if cell.hard]


def simulated_notebook(cell_count: int, rng: random.Random) -> SimulatedNotebook:
    hard_count = max(1, round(cell_count * HARD_SHARE)) if cell_count > 1 else 0
    hard = set(rng.sample(range(1, cell_count), hard_count)) if hard_count else set()
    cells = []
    for index in range(cell_count):
        is_hard = index in hard
        # Each hard cell has its own typical mistakes, as a real exercise does.
        errors = tuple(rng.sample(HARD_ERRORS, 2)) if is_hard else EASY_ERRORS
        cells.append(
            Cell(
                index=index,
                id=f"cell-{index + 1:03d}",
                code=CELL_CODE[index % len(CELL_CODE)],
                hard=is_hard,
                error_rate=HARD_ERROR_RATE if is_hard else EASY_ERROR_RATE,
                errors=errors,
            )
        )
    return SimulatedNotebook(path="lessons/data-analysis.ipynb", cells=tuple(cells))
