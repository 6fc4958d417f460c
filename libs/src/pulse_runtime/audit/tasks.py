"""The task progress log: one :class:`~pulse_contracts.audit.TaskStep` per step of a multi-step
task, handed to the process's :class:`~.sink.RecordSink`.

::

    tasks = TaskLog(sink, service="ingest")           # one per process, beside the recorder
    async with tasks.task("bulk_import", input_data={"rows": 1200}) as task:   # START
        async with task.step("chunk 3", input_data={"first_line": 201}) as step:
            step.progress({"rows": 50})              # IN_PROGRESS, for a long step
            step.output_data = {"points": 400}       # SUCCESS on exit; FAILED on an exception
        task.output_data = {"chunks": 6}             # the run's last step: SUCCESS or FAILED

A run (``task.task_id``) records ``START``, then each step's ``SUCCESS``/``FAILED`` (and its
``IN_PROGRESS`` reports), then a final step named after the task; ``execution_order`` counts
1, 2, … within the run. An exception is recorded (its message and stack trace, secrets
redacted: :mod:`.text_secrets`) and raised again: the log watches, it never changes what
happens. The task and its steps work with ``with`` as well as ``async with``.

The run's trace id is the one given, else the current one (the request's or the message's,
bound for log lines by the web edge and by :func:`pulse_runtime.tracing.logged_with_trace_of`),
else a new one; it is bound for log lines within the task, so a task started inside another
shares its trace.
"""

from __future__ import annotations

import math
import secrets
import sys
import traceback
import uuid
from collections.abc import Mapping
from contextvars import Token
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import msgspec
import structlog
from pulse_contracts.audit import StepStatus, TaskStep

from pulse_runtime.tracing import trace_id_of

from .sink import RecordSink, new_key
from .text_secrets import REDACTED, is_secret_name, redact_text

MAX_DATA_BYTES = 64 * 1024
"""Input or output data bigger than this as JSON is stored as a ``$truncated`` marker."""
MAX_ERROR_CHARS = 2000
MAX_TRACE_CHARS = 16 * 1024
"""A longer stack trace keeps its end: where it broke."""
_PREVIEW_CHARS = 1000
_json = msgspec.json.Encoder()


def current_trace_id() -> str | None:
    """The trace id of the request or message being handled, if any."""
    bound = structlog.contextvars.get_contextvars().get("trace_id")
    if isinstance(bound, str) and bound:
        return bound
    # The web edge's context variable, if the web edge is loaded in this process (importing it
    # here would make every worker load Litestar).
    web_tracing = sys.modules.get("pulse_runtime.web.tracing")
    if web_tracing is not None:
        found: str | None = trace_id_of(web_tracing.current_traceparent.get(None))
        return found
    return None


def new_trace_id() -> str:
    return secrets.token_hex(16)


class TaskLog:
    """Makes task runs whose steps go to ``sink``, as ``service``'s."""

    def __init__(self, sink: RecordSink, *, service: str) -> None:
        self.sink = sink
        self.service = service

    def task(
        self, task_name: str, *, trace_id: str | None = None, input_data: Any = None
    ) -> TaskRun:
        """A run of ``task_name``, to enter with ``async with`` (or ``with``)."""
        return TaskRun(
            self,
            task_name,
            trace_id=trace_id or current_trace_id() or new_trace_id(),
            input_data=input_data,
        )


class TaskRun:
    """One run of a task: ``START`` on entering, the final step on leaving."""

    def __init__(self, log: TaskLog, task_name: str, *, trace_id: str, input_data: Any) -> None:
        self.task_id = uuid.uuid4().hex
        self.task_name = task_name
        self.trace_id = trace_id
        self.input_data = input_data
        self.output_data: Any = None
        self._log = log
        self._order = 0
        self._bound: Mapping[str, Token[Any]] | None = None

    @property
    def traceparent(self) -> str:
        """A W3C ``traceparent`` in this run's trace, for what the task publishes."""
        return f"00-{self.trace_id}-{secrets.token_hex(8)}-01"

    def step(self, step_name: str, *, input_data: Any = None) -> TaskStepRun:
        """A step of this run, to enter with ``async with`` (or ``with``)."""
        return TaskStepRun(self, step_name, input_data)

    def record(
        self,
        step_name: str,
        status: StepStatus,
        *,
        input_data: Any = None,
        output_data: Any = None,
        error: BaseException | None = None,
    ) -> None:
        """One step record of this run (the context managers call this; a caller may too, for
        a step that is a single fact)."""
        self._order += 1
        error_message = stack_trace = None
        if error is not None:
            error_message, stack_trace = describe_error(error)
        self._log.sink.record(
            TaskStep(
                key=new_key(),
                trace_id=self.trace_id,
                service=self._log.service,
                task_id=self.task_id,
                task_name=self.task_name,
                step_name=step_name,
                status=status,
                input_data=storable(input_data),
                output_data=storable(output_data),
                error_message=error_message,
                stack_trace=stack_trace,
                execution_order=self._order,
                created_at=datetime.now(UTC),
            )
        )

    def __enter__(self) -> TaskRun:
        self._bound = structlog.contextvars.bind_contextvars(trace_id=self.trace_id)
        self.record(self.task_name, "START", input_data=self.input_data)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self.record(self.task_name, "SUCCESS", output_data=self.output_data)
            else:
                self.record(self.task_name, "FAILED", output_data=self.output_data, error=exc)
        finally:
            if self._bound is not None:
                structlog.contextvars.reset_contextvars(**self._bound)
                self._bound = None

    async def __aenter__(self) -> TaskRun:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class TaskStepRun:
    """One step: ``SUCCESS`` or ``FAILED`` on leaving, ``IN_PROGRESS`` on each
    :meth:`progress`."""

    def __init__(self, run: TaskRun, step_name: str, input_data: Any) -> None:
        self.run = run
        self.step_name = step_name
        self.input_data = input_data
        self.output_data: Any = None

    def progress(self, output_data: Any = None) -> None:
        """Record that the step goes on, with how far it got (``output_data``)."""
        self.run.record(
            self.step_name, "IN_PROGRESS", input_data=self.input_data, output_data=output_data
        )

    def __enter__(self) -> TaskStepRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.run.record(
            self.step_name,
            "SUCCESS" if exc is None else "FAILED",
            input_data=self.input_data,
            output_data=self.output_data,
            error=exc,
        )

    async def __aenter__(self) -> TaskStepRun:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def describe_error(error: BaseException) -> tuple[str, str]:
    """The error's message and its stack trace, secrets redacted, bounded, without NULs."""
    message = redact_text(f"{type(error).__name__}: {error}".rstrip(": ")).replace("\x00", "")
    trace = "".join(traceback.format_exception(error))
    trace = redact_text(trace).replace("\x00", "")
    if len(trace) > MAX_TRACE_CHARS:
        trace = "…(earlier frames cut)\n" + trace[-MAX_TRACE_CHARS:]
    if len(message) > MAX_ERROR_CHARS:
        message = message[:MAX_ERROR_CHARS] + "…"
    return message, trace


def storable(value: Any) -> Any:
    """``value`` as a JSON value ``jsonb`` takes: Structs, dataclasses, dates and the like
    converted (anything else by ``str``), NUL characters removed (``jsonb`` refuses them),
    values under secret-looking keys redacted, and bounded (:data:`MAX_DATA_BYTES`)."""
    if value is None:
        return None
    try:
        plain = msgspec.to_builtins(value, str_keys=True, enc_hook=str)
    except (TypeError, ValueError, OverflowError):
        plain = str(value)
    plain = _clean(plain)
    encoded = _json.encode(plain)
    if len(encoded) > MAX_DATA_BYTES:
        preview = encoded[:_PREVIEW_CHARS].decode("utf-8", "ignore")
        return {"$truncated": {"bytes": len(encoded), "preview": preview}}
    return plain


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {
            (clean_key := str(key).replace("\x00", "")): REDACTED
            if is_secret_name(clean_key)
            else _clean(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):  # jsonb takes no NaN, no Infinity
        return None
    return value
