"""A channel's kept deliveries answer a resume only when they hold everything after it."""

from __future__ import annotations

from pulse_contracts import SeriesBatch
from pulse_gateway.live.fanout import Delivery
from pulse_gateway.live.feeds import METRIC_FEED
from pulse_gateway.live.frames import FrameCodec
from pulse_gateway.live.recent import RecentDeliveries

FRAMES = FrameCodec()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def delivery(seq: int) -> Delivery:
    batch = SeriesBatch(source="s", name="n", times_us=[seq], values=[float(seq)])
    return METRIC_FEED.delivery("metric:n", seq, batch, FRAMES)


def seqs(found: list[Delivery] | None) -> list[int] | None:
    return None if found is None else [d.seq for d in found]


def test_nothing_is_promised_before_the_first_delivery() -> None:
    recent = RecentDeliveries(frames=10, window_s=60)
    assert recent.after(0) is None


def test_it_answers_from_just_below_the_first_delivery_it_saw() -> None:
    recent = RecentDeliveries(frames=10, window_s=60)
    for seq in (5, 7, 9):  # other channels' messages lie between
        recent.add(delivery(seq))
    assert seqs(recent.after(4)) == [5, 7, 9]
    assert seqs(recent.after(5)) == [7, 9]
    assert seqs(recent.after(9)) == []
    assert seqs(recent.after(12)) == []  # ahead of this gateway: the live flow brings the rest
    assert recent.after(3) is None  # the channel may have had a message at 4 it never saw


def test_dropping_by_count_or_age_raises_the_floor() -> None:
    clock = Clock()
    recent = RecentDeliveries(frames=3, window_s=10, clock=clock)
    for seq in range(1, 6):
        recent.add(delivery(seq))
    assert seqs(recent.after(2)) == [3, 4, 5]
    assert recent.after(1) is None
    clock.now = 11
    assert recent.after(2) is None
    assert seqs(recent.after(5)) == []  # all aged out: still nothing after 5 was missed


def test_a_hole_the_channel_could_not_fill_is_never_served_across() -> None:
    recent = RecentDeliveries(frames=10, window_s=60)
    for seq in (1, 2, 3):
        recent.add(delivery(seq))
    recent.broken(before_seq=8)
    recent.add(delivery(8))
    assert recent.after(3) is None
    assert seqs(recent.after(7)) == [8]


def test_zero_frames_keeps_nothing() -> None:
    recent = RecentDeliveries(frames=0, window_s=60)
    recent.add(delivery(1))
    assert recent.after(1) is None
