"""Answers too big for one NATS message travel as numbered parts (ADR 12).

A request says it takes parts with its ``part_bytes`` field (the largest part it takes). The
answerer encodes its reply once; when the bytes exceed one message, it publishes them in
order, sliced, to the request's reply subject, each slice with the header ``Pulse-Part:
<n>/<count>`` (n from 1). The asker joins them back before decoding. A message without the
header is a whole reply: the only one, or, after some parts, one that replaces the rest (the
answerer could not finish and sends an error instead).
"""

from __future__ import annotations

from typing import Final

PART_HEADER: Final = "Pulse-Part"

MIN_PART_BYTES: Final = 1024
"""A request offering smaller parts is answered as one that takes none."""

HEADER_ROOM: Final = 256
"""Bytes kept free in each part for the headers: NATS counts them into its max_payload."""


def slices(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into consecutive slices of at most ``size`` bytes."""
    if size < 1:
        raise ValueError(f"a part must hold at least one byte, not {size}")
    return [data[first : first + size] for first in range(0, len(data), size)]


def part_header(number: int, count: int) -> str:
    return f"{number}/{count}"


def parse_part_header(value: str) -> tuple[int, int]:
    """``(n, count)`` from ``"n/count"``; ValueError for anything else."""
    number, separator, count = value.partition("/")
    if not (separator and number.isdigit() and count.isdigit()):
        raise ValueError(f"{PART_HEADER} {value!r} is not <n>/<count>")
    parsed = int(number), int(count)
    if not 1 <= parsed[0] <= parsed[1]:
        raise ValueError(f"{PART_HEADER} {value!r}: part out of range")
    return parsed
