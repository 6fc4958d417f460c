"""IPython's cell hooks: ``pre_run_cell`` notes the start, ``post_run_cell`` makes the
``cell_executed`` event and hands it over. Both run in the cell's thread, so they only read a
clock and build a dict; and they never raise (a failure here would show in the student's cell).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from .events import cell_executed
from .location import PLAIN_IPYTHON_PATH, notebook_path

Submit = Callable[[dict[str, Any]], None]
_KEY_OPTION = re.compile(r"(\bkey\s*=\s*)(\"[^\"]*\"|'[^']*'|\S+)")


class CellInfo(Protocol):
    """IPython's ``ExecutionInfo`` (what we read of it)."""

    raw_cell: str
    silent: bool


class CellResult(Protocol):
    """IPython's ``ExecutionResult`` (what we read of it)."""

    execution_count: int | None
    error_before_exec: BaseException | None
    error_in_exec: BaseException | None
    info: CellInfo | None


def without_secrets(code: str) -> str:
    """The cell's code with the class key of a ``%pulse_config key=…`` masked."""
    if "pulse_config" not in code:
        return code
    return _KEY_OPTION.sub(r"\1***", code)


class CellRecorder:
    def __init__(
        self,
        *,
        student: Callable[[], str],
        user_ns: Mapping[str, Any],
        environ: Mapping[str, str],
        metadata: Callable[[], dict[str, Any]],
        wants_code: Callable[[], bool],
        submit: Submit,
        on_error: Callable[[BaseException], None],
    ) -> None:
        self._student = student
        self._user_ns = user_ns
        self._environ = environ
        self._metadata = metadata
        self._wants_code = wants_code
        self._submit = submit
        self._on_error = on_error
        self._started: float | None = None

    def notebook_path(self) -> str:
        return notebook_path(self._user_ns, self._environ) or PLAIN_IPYTHON_PATH

    def pre_run_cell(self, info: Any) -> None:
        self._started = time.perf_counter()

    def post_run_cell(self, result: Any) -> None:
        try:
            self._record(result)
        except Exception as error:
            self._on_error(error)

    def _record(self, result: CellResult) -> None:
        finished = time.perf_counter()
        started, self._started = self._started, None
        info = result.info
        if info is not None and info.silent:
            return  # the front end's own executions, not the student's
        count = result.execution_count
        path = notebook_path(self._user_ns, self._environ)
        cell_id = getattr(info, "cell_id", None)
        if path is not None and isinstance(cell_id, str) and cell_id:
            index = None  # resolved in the background, from the saved notebook
        else:
            # Plain IPython (or a front end that sends no cell id): each input is a cell.
            cell_id = f"in-{count}" if count is not None else "in"
            index = count if count is not None and count >= 0 else 0
        raw = getattr(info, "raw_cell", None)
        code = without_secrets(raw) if isinstance(raw, str) and self._wants_code() else None
        event = cell_executed(
            student=self._student(),
            notebook_path=path or PLAIN_IPYTHON_PATH,
            cell_id=cell_id,
            cell_index=index,
            code=code,
            execution_count=count,
            error=result.error_before_exec or result.error_in_exec,
            duration_ms=(finished - started) * 1000 if started is not None else 0.0,
            metadata=self._metadata(),
        )
        self._submit(event)
