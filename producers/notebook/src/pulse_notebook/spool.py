"""The disk buffer: events not yet accepted by Pulse, as JSON lines, fsync'd before a send is
attempted, so a kernel that dies (or a Pulse that is down for a week) loses nothing.

Each kernel process owns one spool file in the class key's folder, and holds a lock on a
companion ``.lock`` file while it lives. A kernel that starts adopts the files of kernels that
are gone (their lock is free): that is how events buffered before a kernel restart are sent
after it. Sent events leave the file at the next compaction; one that was sent but not yet
compacted away when the kernel died is sent again later, with the same ``eventId``, which
Pulse stores once.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import uuid
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

COMPACT_EVERY_S = 5.0


def _try_lock(handle: IO[bytes]) -> bool:
    """An exclusive, non-blocking lock on ``handle``, freed by the OS when its process ends."""
    try:
        if sys.platform == "win32":
            import msvcrt  # noqa: PLC0415

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl  # noqa: PLC0415

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _encode(event: dict[str, Any]) -> bytes:
    return (json.dumps(event, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def _read_events(path: Path) -> list[dict[str, Any]]:
    """The events of a spool file; a torn last line (a crash mid-write) is skipped."""
    events = []
    try:
        data = path.read_bytes()
    except OSError:
        return []
    for line in data.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("eventId"), str):
            events.append(event)
    return events


class Spool:
    """Pending events in order, mirrored in this process's spool file."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.path = folder / f"{self.name}.jsonl"
        self._lock: IO[bytes] | None = None
        self._file: IO[bytes] | None = None
        self._pending: deque[tuple[dict[str, Any], int]] = deque()
        self._bytes = 0
        self._dirty = False
        self._compacted_at = time.monotonic()

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    @property
    def on_disk(self) -> bool:
        return self._file is not None

    def open(self) -> int:
        """Create this process's file and adopt orphaned ones; returns how many dropped for
        size (oldest first) while adopting. An ``OSError`` (a read-only home, say) leaves the
        spool in memory only: the events still wait for Pulse, but not past this kernel."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = (self.folder / f"{self.name}.lock").open("wb")
        _try_lock(self._lock)
        self._file = self.path.open("ab")
        return self._adopt_orphans()

    def _adopt_orphans(self) -> int:
        dropped = 0
        for lock_path in sorted(self.folder.glob("*.lock")):
            name = lock_path.stem
            if name == self.name:
                continue
            try:
                handle = lock_path.open("ab")
            except OSError:
                continue
            with handle:
                if not _try_lock(handle):
                    continue  # a live kernel's spool
                data_path = self.folder / f"{name}.jsonl"
                dropped += self.add(_read_events(data_path))
                with contextlib.suppress(OSError):
                    data_path.unlink()
            with contextlib.suppress(OSError):
                lock_path.unlink()
        return dropped

    def add(self, events: Iterable[dict[str, Any]]) -> int:
        """Append and fsync; returns how many of the oldest were dropped to stay in bounds."""
        lines = []
        for event in events:
            line = _encode(event)
            self._pending.append((event, len(line)))
            self._bytes += len(line)
            lines.append(line)
        if not lines:
            return 0
        dropped = 0
        while self._bytes > self.max_bytes and len(self._pending) > 1:
            _, size = self._pending.popleft()
            self._bytes -= size
            dropped += 1
        if self._file is None:
            return dropped
        if dropped:
            self._rewrite()
        else:
            self._file.write(b"".join(lines))
            self._file.flush()
            os.fsync(self._file.fileno())
        return dropped

    def peek(self, count: int) -> list[dict[str, Any]]:
        return [event for event, _ in list(self._pending)[:count]]

    def remove(self, event_ids: set[str]) -> None:
        """Forget events Pulse accepted (or refused for good); the file follows at the next
        :meth:`compact`."""
        kept: deque[tuple[dict[str, Any], int]] = deque()
        for event, size in self._pending:
            if event["eventId"] in event_ids:
                self._bytes -= size
            else:
                kept.append((event, size))
        if len(kept) != len(self._pending):
            self._pending = kept
            self._dirty = True

    def compact(self, *, force: bool = False) -> None:
        """Rewrite the file without the events already gone: at once when nothing is pending
        (a truncation), else at most every few seconds (a big backlog is drained in many
        batches) or when ``force``d (at shutdown)."""
        if not self._dirty or self._file is None:
            return
        due = time.monotonic() - self._compacted_at >= COMPACT_EVERY_S
        if self._pending and not (due or force):
            return
        self._rewrite()

    def _rewrite(self) -> None:
        assert self._file is not None
        if not self._pending:
            self._file.truncate(0)
            self._file.flush()
            os.fsync(self._file.fileno())
        else:
            temporary = self.path.with_suffix(".tmp")
            with temporary.open("wb") as out:
                out.write(b"".join(_encode(event) for event, _ in self._pending))
                out.flush()
                os.fsync(out.fileno())
            self._file.close()
            os.replace(temporary, self.path)
            self._file = self.path.open("ab")
        self._dirty = False
        self._compacted_at = time.monotonic()

    def close(self) -> None:
        """Compact and let go: the file stays when events are pending (the next kernel adopts
        it), and goes when none are."""
        if self._file is not None:
            self.compact(force=True)
            self._file.close()
            self._file = None
            if not self._pending:
                with contextlib.suppress(OSError):
                    self.path.unlink()
        if self._lock is not None:
            self._lock.close()
            self._lock = None
            if not self._pending:
                with contextlib.suppress(OSError):
                    (self.folder / f"{self.name}.lock").unlink()
