"""An import's body as numbered lines, read as it arrives: bounded in bytes and per line, and
a digest of what was read so far (the chunks' message ids: :mod:`.importer`)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from .outcomes import ImportTooLarge, RowInvalid

MAX_LINE_BYTES = 64 * 1024
"""A row is a few dozen bytes; a longer line is no row (binary garbage, a missing newline)."""


class BodyLines:
    """Lines of ``body`` (without their ``\\n`` or ``\\r\\n``), each with its number (1 is the
    first), blank ones skipped; more than ``max_bytes`` in all raises
    :class:`~.outcomes.ImportTooLarge`."""

    def __init__(self, body: AsyncIterator[bytes], *, max_bytes: int) -> None:
        self._body = body
        self._max_bytes = max_bytes
        self._pending: list[bytes] = []  # whole lines read, not yet taken (in reverse)
        self._partial = b""  # the start of a line whose end has not arrived
        self._next_number = 1
        self._ended = False
        self._over = False  # past max_bytes: what is pending is the last within it
        self._digest = hashlib.blake2b(digest_size=16)
        self.bytes_read = 0

    def digest(self) -> str:
        """The digest of every line taken so far: the same file gives the same digest at the
        same line, however its bytes arrived."""
        return self._digest.hexdigest()

    async def take(self, rows: int) -> list[tuple[int, bytes]]:
        """Up to ``rows`` non-blank lines with their numbers; an empty list at the end."""
        taken: list[tuple[int, bytes]] = []
        while len(taken) < rows:
            if not self._pending and not await self._read():
                break
            line = self._pending.pop()
            number = self._next_number
            self._next_number += 1
            self._digest.update(line)
            self._digest.update(b"\n")
            line = line.removesuffix(b"\r")
            if line.strip():
                taken.append((number, line))
        return taken

    async def _read(self) -> bool:
        """Read until at least one whole line is pending; False at the end of the body.

        Past ``max_bytes``, the whole lines within the limit are still taken (the chunks they
        fill are stored), then :class:`~.outcomes.ImportTooLarge` is raised."""
        while not self._pending:
            if self._over:
                raise ImportTooLarge(
                    f"the body is over {self._max_bytes} bytes (PULSE_INGEST_IMPORT_MAX_BYTES):"
                    " split the file"
                )
            if self._ended:
                return False
            piece = await anext(self._body, None)
            if piece is None:
                self._ended = True
                if self._partial:
                    self._pending.append(self._partial)
                    self._partial = b""
                    return True
                return False
            if not piece:  # Litestar's stream ends with an empty piece
                continue
            within = self._max_bytes - self.bytes_read
            self.bytes_read += len(piece)
            if len(piece) > within:
                piece, self._over = piece[:within], True
            *whole, self._partial = (self._partial + piece).split(b"\n")
            if len(self._partial) > MAX_LINE_BYTES:
                raise RowInvalid(
                    self._next_number + len(whole),
                    None,
                    f"the line is longer than {MAX_LINE_BYTES} bytes: not a row",
                )
            for number, line in enumerate(whole, self._next_number):
                if len(line) > MAX_LINE_BYTES:
                    raise RowInvalid(
                        number, None, f"the line is longer than {MAX_LINE_BYTES} bytes: not a row"
                    )
            whole.reverse()
            self._pending = whole
        return True
