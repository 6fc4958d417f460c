"""``%load_ext pulse_notebook``: the cell hooks, ``%pulse_config``, and the sender's life.

Loading never fails the cell: a bad configuration is one line on stderr, and the notebook goes
on without the producer until ``%pulse_config`` fixes it. Events made before the producer is
configured wait in memory (the latest few thousand) and are sent once it is.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

from .config import ConfigError, ProducerConfig, config_from_environ, parse_magic_line
from .events import notebook_event, producer_metadata
from .location import CellPositions, notebook_path
from .recorder import CellRecorder
from .sender import EventSender, warn_on_stderr
from .spool import Spool
from .transport import PulseEndpoint

MAX_WAITING = 5_000
RESTART_WINDOW_S = 12 * 3600.0
"""A notebook loaded again within this time of its last load is a restarted kernel."""


class NotebookProducer:
    """The producer of one IPython shell."""

    def __init__(self, shell: Any, config: ProducerConfig) -> None:
        self.shell = shell
        self.config = config
        self.positions = CellPositions(Path.cwd())
        self.sender: EventSender | None = None
        self._waiting: deque[dict[str, Any]] = deque(maxlen=MAX_WAITING)
        self._hook_failed = False
        self.recorder = CellRecorder(
            student=lambda: self.config.student,
            user_ns=shell.user_ns,
            environ=os.environ,  # noqa: TID251 - JPY_SESSION_NAME, set by jupyter_server
            metadata=self._metadata,
            wants_code=self._wants_code,
            submit=self.submit,
            on_error=self._hook_error,
        )

    def _metadata(self) -> dict[str, Any]:
        in_notebook = notebook_path(self.shell.user_ns, os.environ) is not None  # noqa: TID251
        return producer_metadata("jupyter" if in_notebook else "ipython")

    def _wants_code(self) -> bool:
        """Keep the code unless the class is known not to collect it (the sender drops it
        anyway, at send time, when the settings say so)."""
        settings = self.sender.settings if self.sender is not None else None
        return settings is None or settings.collect_code

    def _hook_error(self, error: BaseException) -> None:
        if not self._hook_failed:
            self._hook_failed = True
            warn_on_stderr(f"could not record a cell ({error!r}); the notebook is unaffected")

    def submit(self, event: dict[str, Any]) -> None:
        if self.sender is None:
            self._waiting.append(event)
        else:
            self.sender.submit(event)

    # --- life ------------------------------------------------------------------------------

    def load(self) -> None:
        events = self.shell.events
        events.register("pre_run_cell", self.recorder.pre_run_cell)
        events.register("post_run_cell", self.recorder.post_run_cell)
        self.shell.register_magic_function(self.pulse_config, "line", "pulse_config")
        atexit.register(self.close)
        self.submit(self._kernel_event())
        self.start()

    def _kernel_event(self) -> dict[str, Any]:
        path = self.recorder.notebook_path()
        return notebook_event(
            "kernel_restarted" if self._seen_recently(path) else "notebook_opened",
            student=self.config.student,
            notebook_path=path,
            metadata=self._metadata(),
        )

    def _seen_recently(self, path: str) -> bool:
        """Whether a kernel loaded the producer for this notebook a short while ago (so this
        one replaces it), remembering this load for the next kernel."""
        marks = self.config.spool_dir.expanduser() / "kernels.json"
        name = hashlib.sha256(f"{self.config.student}\0{path}".encode()).hexdigest()[:16]
        now = time.time()
        try:
            seen = json.loads(marks.read_text())
            if not isinstance(seen, dict):
                seen = {}
        except (OSError, ValueError):
            seen = {}
        last = seen.get(name)
        recently = isinstance(last, (int, float)) and now - last < RESTART_WINDOW_S
        seen = {
            k: v
            for k, v in seen.items()
            if isinstance(v, (int, float)) and now - v < RESTART_WINDOW_S
        }
        seen[name] = now
        try:
            marks.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            marks.write_text(json.dumps(seen))
        except OSError:
            pass
        return recently

    def start(self) -> None:
        if not self.config.ready:
            missing = [
                name for name in ("endpoint", "key", "student") if not getattr(self.config, name)
            ]
            warn_on_stderr(
                f"not sending yet: no {', '.join(missing)} (set PULSE_NOTEBOOK_ENDPOINT,"
                " PULSE_NOTEBOOK_KEY, PULSE_NOTEBOOK_STUDENT or run %pulse_config"
                " endpoint=… key=… student=…)"
            )
            return
        assert self.config.endpoint is not None
        assert self.config.key is not None
        sender = EventSender(
            PulseEndpoint(self.config.endpoint, self.config.key),
            Spool(self.config.class_folder(), self.config.spool_max_bytes),
            resolve=self.positions.resolve,
        )
        while self._waiting:
            sender.submit(self._waiting.popleft())
        sender.start()
        self.sender = sender

    def close(self) -> None:
        sender, self.sender = self.sender, None
        if sender is not None:
            sender.close()

    def unload(self) -> None:
        for name, callback in (
            ("pre_run_cell", self.recorder.pre_run_cell),
            ("post_run_cell", self.recorder.post_run_cell),
        ):
            with contextlib.suppress(ValueError):
                self.shell.events.unregister(name, callback)
        atexit.unregister(self.close)
        self.close()

    # --- %pulse_config ---------------------------------------------------------------------

    def pulse_config(self, line: str = "") -> None:
        """``%pulse_config endpoint=… key=… student=…`` changes the configuration (and
        restarts the sender with it); ``%pulse_config`` alone shows it, the key masked."""
        if line.strip():
            try:
                config = self.config.with_options(parse_magic_line(line))
            except (ConfigError, ValueError) as error:
                print(f"pulse-notebook: {error}")
                return
            self.close()
            self.config = config
            self.start()
        print(self.describe())

    def describe(self) -> str:
        lines = [self.config.describe()]
        sender = self.sender
        if sender is None:
            lines.append(f"status          = not sending ({len(self._waiting)} events waiting)")
        else:
            settings = sender.settings
            known = (
                "class settings not read yet"
                if settings is None
                else f"class {settings.class_id}, collect code: {settings.collect_code},"
                f" pseudonymise: {settings.pseudonymise}"
            )
            lines.append(f"status          = sending; {known}")
            lines.append(f"sent            = {sender.sent} events ({len(sender.spool)} buffered)")
        return "\n".join(lines)


_producers: dict[int, NotebookProducer] = {}


def load_ipython_extension(shell: Any) -> None:
    """Called by ``%load_ext pulse_notebook``."""
    if id(shell) in _producers:
        return
    try:
        config = config_from_environ()
    except ConfigError as error:
        warn_on_stderr(str(error))
        config = ProducerConfig()
    producer = NotebookProducer(shell, config)
    _producers[id(shell)] = producer
    producer.load()


def unload_ipython_extension(shell: Any) -> None:
    """Called by ``%unload_ext pulse_notebook``: unhooks, sends what it can, stops."""
    producer = _producers.pop(id(shell), None)
    if producer is not None:
        producer.unload()


def producer_of(shell: Any) -> NotebookProducer | None:
    """The producer loaded in ``shell`` (for tests and other extensions)."""
    return _producers.get(id(shell))
