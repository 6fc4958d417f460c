"""Where a cell is: the notebook's path and the cell's position.

The path: ``__session__`` in the user's namespace (ipykernel sets it from the
``JPY_SESSION_NAME`` that jupyter_server gives each kernel, in JupyterLab and the classic
Notebook), VS Code's ``__vsc_ipynb_file__``, the ``JPY_SESSION_NAME`` variable itself; in plain
IPython there is no notebook and the path is ``ipython``.

The position: Jupyter front ends send the cell's id with each execution but not its index. The
saved ``.ipynb`` file (nbformat 4.5 keeps cell ids) says where that id is; a cell not in it yet
(added since the last save) gets the next index past the saved cells, in the order its id is
first seen. The file is read in the background thread, and again only when it changed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PLAIN_IPYTHON_PATH = "ipython"
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


def notebook_path(user_ns: Mapping[str, Any], environ: Mapping[str, str]) -> str | None:
    """The notebook this kernel runs, as the front end named it; None in plain IPython."""
    for name in ("__session__", "__vsc_ipynb_file__"):
        value = user_ns.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    session = environ.get("JPY_SESSION_NAME", "").strip()
    return session or None


class CellPositions:
    """``cellIndex`` for the cell ids of one kernel's notebooks."""

    def __init__(self, working_dir: Path) -> None:
        self.working_dir = working_dir
        self._saved: dict[str, tuple[tuple[int, int], dict[str, int]]] = {}
        self._unsaved: dict[str, dict[str, int]] = {}

    def resolve(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event with its ``cellIndex`` filled in, when it has a cell id but no index."""
        cell_id = event.get("cellId")
        path = event.get("notebookPath")
        if event.get("cellIndex") is not None or not isinstance(cell_id, str):
            return event
        if not isinstance(path, str):
            return event
        return {**event, "cellIndex": self.index(path, cell_id)}

    def index(self, path: str, cell_id: str) -> int:
        saved = self._saved_positions(path)
        if cell_id in saved:
            return saved[cell_id]
        unsaved = self._unsaved.setdefault(path, {})
        if cell_id not in unsaved:
            unsaved[cell_id] = len(saved) + len(unsaved)
        return unsaved[cell_id]

    def _saved_positions(self, path: str) -> dict[str, int]:
        file = self._file_of(path)
        if file is None:
            return {}
        try:
            stat = file.stat()
        except OSError:
            return {}
        version = (stat.st_mtime_ns, stat.st_size)
        cached = self._saved.get(path)
        if cached is not None and cached[0] == version:
            return cached[1]
        positions = _cell_positions(file) if stat.st_size <= MAX_NOTEBOOK_BYTES else {}
        self._saved[path] = (version, positions)
        return positions

    def _file_of(self, path: str) -> Path | None:
        given = Path(path)
        candidates = (
            [given]
            if given.is_absolute()
            else [
                self.working_dir / given,
                self.working_dir / given.name,
            ]
        )
        for candidate in candidates:
            if candidate.suffix == ".ipynb" and candidate.is_file():
                return candidate
        return None


def _cell_positions(file: Path) -> dict[str, int]:
    """Each cell id of a saved notebook and its position (every cell type counts, as the
    front end shows them)."""
    try:
        notebook = json.loads(file.read_bytes())
    except (OSError, ValueError):
        return {}
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return {}
    positions = {}
    for index, cell in enumerate(cells):
        cell_id = cell.get("id") if isinstance(cell, dict) else None
        if isinstance(cell_id, str):
            positions[cell_id] = index
    return positions
