"""The recorder's local spool: batches NATS did not take, kept on disk until it does.

A directory of append-only segment files (``000000000042.spool``), each a run of frames::

    length (4 bytes, big-endian) | CRC-32 of the body (4 bytes) | body (msgpack SpooledBatch)

A batch keeps its ``Nats-Msg-Id``, so one sent twice (published, then spooled because the
acknowledgement was lost) is stored once. The spool is bounded (``max_bytes`` over all
segments): a batch that does not fit is refused, and the recorder counts its records dropped.

It survives a restart: a process opens the segments left behind and sends them first. A write
cut short (the process killed mid-frame) leaves a torn frame at a segment's end: reading stops
there, and a process never appends to a segment it did not start, so the torn frame is never
followed by good ones. A batch whose segment is read back whole is deleted with the segment.

One process at a time owns a spool directory (an ``flock`` on its ``lock`` file, released
when the process ends however it ends); a second replica of the same service on the same
directory takes the next free one (``ingest``, ``ingest.2``, …) and leaves the others alone.
"""

from __future__ import annotations

import fcntl
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import msgspec

from pulse_runtime.logging import get_logger

log = get_logger(__name__)

_HEADER = struct.Struct(">II")
_SUFFIX = ".spool"
SEGMENT_BYTES = 1 << 20
"""A segment is closed once this big; sent segments are deleted whole."""
MAX_REPLICA_DIRECTORIES = 64


class SpooledBatch(msgspec.Struct, frozen=True, kw_only=True):
    """A LOGS message as it would have been published."""

    subject: str
    msg_id: str
    data: bytes
    records: int


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SpooledBatch)


class SpoolUnavailable(Exception):
    """The spool directory cannot be made or locked (read-only disk, every slot taken)."""


class Spool:
    """A bounded, restart-safe queue of :class:`SpooledBatch` on disk. Not thread-safe: one
    owner (the recorder's publishing loop) at a time."""

    def __init__(self, directory: Path, *, max_bytes: int, segment_bytes: int = SEGMENT_BYTES):
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._lock: IO[bytes] | None = None
        self._writing: IO[bytes] | None = None
        self._writing_path: Path | None = None
        self._sizes: dict[Path, int] = {}

    @classmethod
    def open(cls, base: Path, service: str, *, max_bytes: int) -> Spool:
        """The spool of ``service`` under ``base``: the first of ``base/<service>``,
        ``base/<service>.2``, … no other process holds."""
        for slot in range(1, MAX_REPLICA_DIRECTORIES + 1):
            name = service if slot == 1 else f"{service}.{slot}"
            spool = cls(base / name, max_bytes=max_bytes)
            try:
                if spool._take():
                    return spool
            except OSError as exc:
                raise SpoolUnavailable(f"{base / name}: {exc}") from exc
        raise SpoolUnavailable(f"{base}: all {MAX_REPLICA_DIRECTORIES} spools of {service} in use")

    def _take(self) -> bool:
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = (self.directory / "lock").open("ab")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            return False
        self._lock = lock
        self._sizes = {path: path.stat().st_size for path in self._segments_on_disk()}
        return True

    def close(self) -> None:
        if self._writing is not None:
            self._writing.flush()
            os.fsync(self._writing.fileno())
            self._writing.close()
            self._writing = None
            self._writing_path = None
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    @property
    def size(self) -> int:
        """Bytes held over all segments."""
        return sum(self._sizes.values())

    def __bool__(self) -> bool:
        return bool(self._sizes)

    def append(self, batch: SpooledBatch) -> bool:
        """Keep ``batch``; False (nothing written) when it would take the spool over its cap."""
        body = _encoder.encode(batch)
        frame = _HEADER.pack(len(body), zlib.crc32(body)) + body
        if self.size + len(frame) > self.max_bytes:
            return False
        writing = self._segment_for(len(frame))
        writing.write(frame)
        writing.flush()  # in the OS's hands: a killed process loses nothing
        assert self._writing_path is not None
        self._sizes[self._writing_path] += len(frame)
        return True

    def _segment_for(self, frame_bytes: int) -> IO[bytes]:
        path = self._writing_path
        # A frame bigger than a segment gets one of its own, never an empty one before it.
        used = self._sizes[path] if path is not None else 0
        full = used > 0 and used + frame_bytes > self.segment_bytes
        if self._writing is None or path is None or full:
            self._seal()
            path = self.directory / f"{self._next_number():012d}{_SUFFIX}"
            self._writing = path.open("xb")
            self._writing_path = path
            self._sizes[path] = 0
        return self._writing

    def _seal(self) -> None:
        if self._writing is not None:
            self._writing.close()
            self._writing = None
            self._writing_path = None

    def _next_number(self) -> int:
        numbers = [int(path.stem) for path in self._sizes]
        return max(numbers, default=0) + 1

    def _segments_on_disk(self) -> list[Path]:
        found = []
        for path in self.directory.glob(f"*{_SUFFIX}"):
            if path.stem.isdigit():
                found.append(path)
        return sorted(found)

    def oldest(self) -> tuple[Path, list[SpooledBatch]] | None:
        """The oldest segment and its batches (up to a torn frame), to send; None when empty.
        The segment being written is sealed first: what is read is never written to again."""
        if not self._sizes:
            return None
        path = min(self._sizes)
        if path == self._writing_path:
            self._seal()
        return path, list(read_segment(path))

    def remove(self, path: Path) -> None:
        """Forget a segment whose batches were all sent."""
        path.unlink(missing_ok=True)
        self._sizes.pop(path, None)

    def rewrite(self, path: Path, unsent: list[SpooledBatch]) -> None:
        """Keep only ``unsent`` of a segment (its first batches went out)."""
        if not unsent:
            self.remove(path)
            return
        replacement = path.with_suffix(".tmp")
        with replacement.open("wb") as out:
            for batch in unsent:
                body = _encoder.encode(batch)
                out.write(_HEADER.pack(len(body), zlib.crc32(body)) + body)
            out.flush()
            os.fsync(out.fileno())
        replacement.replace(path)
        self._sizes[path] = path.stat().st_size


def read_segment(path: Path) -> Iterator[SpooledBatch]:
    """The batches of a segment file, stopping at the first frame that is cut short or does
    not check out (a torn last write)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, checksum = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        body = data[start : start + length]
        if len(body) < length or zlib.crc32(body) != checksum:
            log.warning("audit spool: torn frame skipped", segment=str(path), offset=offset)
            return
        try:
            yield _decoder.decode(body)
        except msgspec.DecodeError:
            log.warning("audit spool: unreadable frame skipped", segment=str(path), offset=offset)
            return
        offset = start + length
