"""The background thread that takes events from the cell hooks to Pulse.

The cell's thread only puts an event on a queue (:meth:`EventSender.submit`, never blocking).
This thread buffers it on disk (:class:`~.spool.Spool`), then sends the buffer in batches of up
to 100, at most a second after an event arrived: only once the class's settings are known
(never code or a raw student id before the class allows them); on a connection error, a 5xx or
a 429 the same batch is tried again after an exponential, jittered backoff (or the server's
``Retry-After``); a batch refused for good (another 4xx) is dropped, only its bad events when
a 400 names them. A failure is one line on stderr, once per outage.
"""

from __future__ import annotations

import queue
import random
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from .privacy import ClassSettings, fit_to_send
from .spool import Spool
from .transport import Accepted, Outcome, PulseEndpoint, Refused, Retry

BATCH_SIZE = 100
FLUSH_INTERVAL_S = 1.0
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 60.0
SETTINGS_TTL_S = 300.0
REFUSAL_WARNING_EVERY_S = 60.0
FINAL_SEND_S = 2.0

Warn = Callable[[str], None]
Resolve = Callable[[dict[str, Any]], dict[str, Any]]
_STOP = object()


def warn_on_stderr(message: str) -> None:
    try:
        print(f"pulse-notebook: {message}", file=sys.stderr, flush=True)
    except Exception:  # a closed stream at shutdown
        return


def backoff_delay(failures: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential with jitter: half the capped delay, plus up to the other half at random, so
    a class of kernels that lost Pulse together do not all come back in the same instant."""
    delay = min(max_s, base_s * 2.0 ** max(failures - 1, 0))
    return delay / 2 + rng.uniform(0, delay / 2)


class EventSender:
    def __init__(
        self,
        endpoint: PulseEndpoint,
        spool: Spool,
        *,
        resolve: Resolve | None = None,
        warn: Warn = warn_on_stderr,
        batch_size: int = BATCH_SIZE,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        settings_ttl_s: float = SETTINGS_TTL_S,
        rng: random.Random | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.spool = spool
        self._resolve = resolve
        self._warn = warn
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.settings_ttl_s = settings_ttl_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="pulse-notebook", daemon=True)
        self._stopping = threading.Event()
        self.settings: ClassSettings | None = None
        self._settings_at = 0.0
        self._due_at: float | None = None
        self._failures = 0
        self._outage_warned = False
        self._refusal_warned_at: float | None = None
        self._refused_unwarned = 0
        self.sent = 0
        """Events Pulse accepted (for tests and ``%pulse_config``)."""
        self.refused = 0

    # --- the cell's side ------------------------------------------------------------------

    def submit(self, event: dict[str, Any]) -> None:
        self._queue.put(event)

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout_s: float = FINAL_SEND_S + 1.0) -> None:
        """Buffer what is queued, try one last send (a couple of seconds at most), stop."""
        if not self._thread.is_alive():
            return
        self._stopping.set()
        self._queue.put(_STOP)
        self._thread.join(timeout_s)

    # --- this thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            dropped = self.spool.open()
        except OSError as error:
            self._warn(f"cannot buffer on disk ({error}); events wait in memory only")
            dropped = 0
        self._warn_dropped(dropped)
        if len(self.spool):
            self._due_at = time.monotonic()  # adopted from a previous kernel: send them
        try:
            while not self._stopping.is_set():
                self._take(self._wait_s())
                if self._due_at is not None and time.monotonic() >= self._due_at:
                    self._attempt()
            self._take(0)
            if len(self.spool) and self._failures == 0:
                self.endpoint.timeout_s = min(self.endpoint.timeout_s, FINAL_SEND_S)
                self._attempt()
        except Exception as error:  # a bug here must never reach the notebook
            self._warn(f"stopped sending after an unexpected error: {error!r}")
        finally:
            self.spool.close()

    def _wait_s(self) -> float | None:
        if self._due_at is None:
            return None
        return max(0.0, self._due_at - time.monotonic())

    def _take(self, wait_s: float | None) -> None:
        """Wait up to ``wait_s`` for an event, then take every queued one into the spool."""
        events = []
        try:
            item = self._queue.get(timeout=wait_s) if wait_s != 0 else self._queue.get_nowait()
            while True:
                if item is not _STOP:
                    events.append(self._resolved(item))
                item = self._queue.get_nowait()
        except queue.Empty:
            pass
        if not events:
            return
        self._warn_dropped(self.spool.add(events))
        now = time.monotonic()
        if self._failures:
            return  # in backoff: the next attempt is already planned
        if len(self.spool) >= self.batch_size:
            self._due_at = now
        elif self._due_at is None:
            self._due_at = now + self.flush_interval_s

    def _resolved(self, event: dict[str, Any]) -> dict[str, Any]:
        if self._resolve is None:
            return event
        try:
            return self._resolve(event)
        except Exception:  # the event is still worth sending as it is
            return event

    def _class_settings(self) -> ClassSettings | None:
        now = time.monotonic()
        if self.settings is not None and now - self._settings_at < self.settings_ttl_s:
            return self.settings
        answer = self.endpoint.fetch_settings()
        if answer.settings is None:
            self._failed(answer.outcome, "the class settings")
            return None
        self.settings = answer.settings
        self._settings_at = now
        return self.settings

    def _attempt(self) -> None:
        settings = self._class_settings()
        if settings is None:
            return
        batch = self.spool.peek(self.batch_size)
        if not batch:
            self._due_at = None
            return
        outcome = self.endpoint.post_events([fit_to_send(event, settings) for event in batch])
        if isinstance(outcome, Accepted):
            self.spool.remove({event["eventId"] for event in batch})
            self.sent += len(batch)
            self._failures = 0
            self._outage_warned = False
            self._due_at = time.monotonic() if len(self.spool) else None
        elif isinstance(outcome, Refused):
            indexes = outcome.bad_indexes
            refused = batch if indexes is None else [batch[i] for i in sorted(indexes)]
            self.spool.remove({event["eventId"] for event in refused})
            self.refused += len(refused)
            self._warn_refused(len(refused), outcome.reason)
            self._failures = 0
            self._due_at = time.monotonic() if len(self.spool) else None
        else:
            self._failed(outcome, f"{len(batch)} events")
        self.spool.compact()

    def _failed(self, outcome: Outcome, what: str) -> None:
        """Not now: try again after the backoff (or ``Retry-After``)."""
        self._failures += 1
        after = outcome.after_s if isinstance(outcome, Retry) else None
        if after is None:
            after = backoff_delay(
                self._failures, self.backoff_base_s, self.backoff_max_s, self._rng
            )
        if isinstance(outcome, Refused):  # e.g. the key refused when reading settings
            after = max(after, self.backoff_max_s)
        self._due_at = time.monotonic() + after
        if not self._outage_warned:
            self._outage_warned = True
            where = "on disk" if self.spool.on_disk else "in memory"
            reason = outcome.reason if isinstance(outcome, (Retry, Refused)) else ""
            self._warn(
                f"cannot send {what} to {self.endpoint.endpoint} ({reason}); buffering {where}"
                " and retrying in the background"
            )

    def _warn_refused(self, count: int, reason: str) -> None:
        self._refused_unwarned += count
        now = time.monotonic()
        last = self._refusal_warned_at
        if last is not None and now - last < REFUSAL_WARNING_EVERY_S:
            return
        self._refusal_warned_at = now
        self._warn(f"Pulse refused {self._refused_unwarned} events ({reason}); dropped them")
        self._refused_unwarned = 0

    def _warn_dropped(self, dropped: int) -> None:
        if dropped:
            self._warn(f"the buffer is full: dropped the {dropped} oldest unsent events")
