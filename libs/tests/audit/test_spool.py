"""The recorder's disk spool: bounded, restart-safe, tolerant of a write cut short."""

from __future__ import annotations

from pathlib import Path

import pytest
from pulse_runtime.audit.spool import Spool, SpooledBatch, SpoolUnavailable, read_segment


def batch(number: int, size: int = 100) -> SpooledBatch:
    return SpooledBatch(
        subject="logs.task.ingest", msg_id=f"{number:032x}", data=b"x" * size, records=number
    )


def drain(spool: Spool) -> list[SpooledBatch]:
    sent = []
    while (oldest := spool.oldest()) is not None:
        path, batches = oldest
        sent.extend(batches)
        spool.remove(path)
    return sent


def test_batches_come_back_in_order_and_the_spool_is_empty_after(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, "ingest", max_bytes=1 << 20)
    spool.segment_bytes = 500  # several segments
    for number in range(1, 11):
        assert spool.append(batch(number))
    assert len(list((tmp_path / "ingest").glob("*.spool"))) > 1
    assert spool.size > 1000
    assert [b.records for b in drain(spool)] == list(range(1, 11))
    assert spool.size == 0
    assert not spool
    assert list((tmp_path / "ingest").glob("*.spool")) == []
    spool.close()


def test_a_batch_over_the_cap_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, "gateway", max_bytes=1000)
    assert spool.append(batch(1, size=400))
    assert spool.append(batch(2, size=400))
    size = spool.size
    assert not spool.append(batch(3, size=400))
    assert spool.size == size
    assert [b.records for b in drain(spool)] == [1, 2]
    assert spool.append(batch(4, size=400))  # room again once sent
    spool.close()


def test_a_restart_finds_what_the_last_process_spooled(tmp_path: Path) -> None:
    first = Spool.open(tmp_path, "persistence", max_bytes=1 << 20)
    for number in (1, 2, 3):
        first.append(batch(number))
    first.close()

    second = Spool.open(tmp_path, "persistence", max_bytes=1 << 20)
    assert second.directory == tmp_path / "persistence"
    assert second.size > 0
    second.append(batch(4))  # into a segment of its own, after the old ones
    assert [b.records for b in drain(second)] == [1, 2, 3, 4]
    second.close()


def test_a_torn_last_write_is_skipped_and_what_came_before_is_kept(tmp_path: Path) -> None:
    first = Spool.open(tmp_path, "ingest", max_bytes=1 << 20)
    for number in (1, 2, 3):
        first.append(batch(number))
    first.close()
    (segment,) = (tmp_path / "ingest").glob("*.spool")
    whole = segment.read_bytes()
    segment.write_bytes(whole[:-30])  # the process died inside the third frame

    second = Spool.open(tmp_path, "ingest", max_bytes=1 << 20)
    second.append(batch(4))
    assert [b.records for b in drain(second)] == [1, 2, 4]
    second.close()


def test_a_corrupted_frame_ends_its_segment(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, "ingest", max_bytes=1 << 20)
    for number in (1, 2, 3):
        spool.append(batch(number))
    spool.close()
    (segment,) = (tmp_path / "ingest").glob("*.spool")
    data = bytearray(segment.read_bytes())
    frame = len(data) // 3
    data[frame + 20] ^= 0xFF  # inside the second frame's body
    segment.write_bytes(bytes(data))
    assert [b.records for b in read_segment(segment)] == [1]


def test_a_partly_sent_segment_keeps_only_what_was_not_sent(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, "ingest", max_bytes=1 << 20)
    for number in (1, 2, 3, 4):
        spool.append(batch(number))
    oldest = spool.oldest()
    assert oldest is not None
    path, batches = oldest
    spool.rewrite(path, batches[2:])
    spool.append(batch(5))
    assert [b.records for b in drain(spool)] == [3, 4, 5]
    spool.close()


def test_a_second_process_of_a_service_takes_a_spool_of_its_own(tmp_path: Path) -> None:
    first = Spool.open(tmp_path, "ingest", max_bytes=1 << 20)
    second = Spool.open(tmp_path, "ingest", max_bytes=1 << 20)
    assert first.directory == tmp_path / "ingest"
    assert second.directory == tmp_path / "ingest.2"
    first.append(batch(1))
    assert drain(second) == []
    second.close()
    first.close()
    third = Spool.open(tmp_path, "ingest", max_bytes=1 << 20)
    assert third.directory == tmp_path / "ingest"
    assert [b.records for b in drain(third)] == [1]
    third.close()


def test_a_directory_that_cannot_be_made_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SpoolUnavailable):
        Spool.open(blocker, "ingest", max_bytes=1 << 20)
