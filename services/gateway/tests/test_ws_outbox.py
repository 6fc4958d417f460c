"""The per-socket outbox and the history downsampling, without a socket."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pulse_contracts import to_epoch_us
from pulse_gateway.live.channels import ChannelRefused, authorize, parse_channel
from pulse_gateway.live.client import downsample
from pulse_gateway.live.outbox import Outbox


def gap(channel: str, after: int, before: int) -> str:
    return f"gap {channel} {after} {before}"


async def drain(outbox: Outbox) -> list[str | bytes]:
    items = []
    while len(outbox):
        items.append(await outbox.next())
    return items


async def test_frames_flow_in_order_while_there_is_room() -> None:
    outbox = Outbox(capacity=4, grace_s=10, gap=gap)
    assert outbox.data("c", ("s", "n"), 1, "one")
    outbox.control("ping")
    assert outbox.data("c", ("s", "n"), 2, "two")
    assert await drain(outbox) == ["one", "ping", "two"]


async def test_a_full_outbox_keeps_the_latest_frame_per_series_after_a_gap_frame() -> None:
    outbox = Outbox(capacity=4, grace_s=10, gap=gap)
    assert outbox.data("c", ("s", "a"), 1, "a1")
    assert await outbox.next() == "a1"  # the client has seen sequence 1
    for seq, series in ((2, "a"), (3, "b"), (4, "a"), (5, "b")):
        assert outbox.data("c", ("s", series), seq, f"{series}{seq}")
    outbox.control("ping")
    assert outbox.data("c", ("s", "a"), 6, "a6")  # full: conflated, then queued
    assert await drain(outbox) == ["ping", "gap c 1 5", "a4", "b5", "a6"]
    assert outbox.conflations == 1


async def test_filling_up_again_within_the_grace_period_gives_up() -> None:
    outbox = Outbox(capacity=2, grace_s=60, gap=gap)
    for seq in range(1, 3):
        assert outbox.data("c", ("s", "a"), seq, f"a{seq}")
    assert outbox.data("c", ("s", "a"), 3, "a3")  # conflated to a2 (+ gap): room again
    assert not outbox.data("c", ("s", "a"), 4, "a4")  # full again at once: a slow consumer


async def test_next_waits_for_a_frame() -> None:
    outbox = Outbox(capacity=2, grace_s=1, gap=gap)
    waiting = asyncio.create_task(outbox.next())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    outbox.control("hello")
    assert await waiting == "hello"


def test_history_is_raw_when_it_fits_and_buckets_when_it_does_not() -> None:
    start = datetime.now(UTC) - timedelta(minutes=10)
    base = to_epoch_us(start.replace(second=0, microsecond=0))
    points = {("s", "n"): [(base + i * 1_000_000, float(i)) for i in range(600)]}
    raw = downsample({k: list(v) for k, v in points.items()}, start, 1000)
    assert raw.bucket_s == 0
    assert [p.avg for p in raw.series[0].points] == [float(i) for i in range(600)]
    coarse = downsample({k: list(v) for k, v in points.items()}, start, 100)
    assert coarse.bucket_s > 0
    buckets = coarse.series[0].points
    assert len(buckets) <= 100
    assert sum(b.count for b in buckets) == 600
    first = buckets[0]
    assert first.min <= first.avg <= first.max


@pytest.mark.parametrize(
    ("channel", "subject"),
    [
        ("metric:cpu", "metrics.*.cpu"),
        ("series:web1:cpu", "metrics.web1.cpu"),
        ("source:web1", "metrics.web1.*"),
    ],
)
def test_channels_map_to_stream_subjects(channel: str, subject: str) -> None:
    spec = parse_channel(channel)
    assert spec.subject == subject
    authorize(spec, "user")


@pytest.mark.parametrize("channel", ["cpu", "metric:", "metric:a.b", "series:a", "metric:>", "x:y"])
def test_bad_channels_are_refused(channel: str) -> None:
    with pytest.raises(ChannelRefused) as refused:
        parse_channel(channel)
    assert refused.value.code == "unknown_channel"


def test_event_feeds_are_for_admins() -> None:
    spec = parse_channel("events:class1")
    with pytest.raises(ChannelRefused) as refused:
        authorize(spec, "user")
    assert refused.value.code == "forbidden"
    with pytest.raises(ChannelRefused) as unavailable:
        authorize(spec, "admin")
    assert unavailable.value.code == "unavailable"
