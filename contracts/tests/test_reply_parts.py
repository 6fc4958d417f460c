"""Numbered parts of an answer too big for one NATS message (ADR 12): slicing and the
``Pulse-Part`` header, without a server (the round trips are libs/tests/test_replies.py)."""

from __future__ import annotations

import pytest
from pulse_contracts.reply_parts import parse_part_header, part_header, slices


def test_slices_cover_the_data_in_order() -> None:
    data = bytes(range(256)) * 10
    assert b"".join(slices(data, 1000)) == data
    assert [len(piece) for piece in slices(data, 1000)] == [1000, 1000, 560]
    assert slices(b"", 10) == []
    with pytest.raises(ValueError, match="at least one byte"):
        slices(data, 0)


def test_a_part_header_reads_back_as_written() -> None:
    assert parse_part_header(part_header(2, 3)) == (2, 3)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("two", "Pulse-Part 'two' is not <n>/<count>"),
        ("1-2", "Pulse-Part '1-2' is not <n>/<count>"),
        ("0/2", "Pulse-Part '0/2': part out of range"),
        ("3/2", "Pulse-Part '3/2': part out of range"),
    ],
)
def test_a_bad_part_header_says_why(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        parse_part_header(value)
