"""Fan-out: one NATS subscription per channel, shared by its listeners; every message decoded
and framed once, delivered in sequence order; a hole in a subject's sequence chain read back
from the stream first; a channel closed when its last listener leaves, or kept open for the
resume window. NATS and the stream are stand-ins the test feeds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
from pulse_contracts import subjects
from pulse_gateway.live.channels import parse_channel
from pulse_gateway.live.fanout import ChannelHub, Delivery, RecentPolicy
from pulse_gateway.live.frames import Data, FrameCodec, Point

from services.gateway.tests.support import (
    LiveMessage,
    LiveNats,
    StoredStream,
    batch,
    republished,
)

CPU = parse_channel("metric:cpu")
CPU_LIVE = subjects.live_subject(CPU.subject)


class Listener:
    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []

    def deliver(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)

    @property
    def seqs(self) -> list[int]:
        return [delivery.seq for delivery in self.deliveries]


class Live:
    """A hub with its NATS and stream stand-ins."""

    def __init__(self, recent: RecentPolicy | None = None) -> None:
        self.nats = LiveNats()
        self.stream = StoredStream()
        self.hub = ChannelHub(cast(Any, self.nats), cast(Any, self.stream), FrameCodec(), recent)

    async def publish(self, message: LiveMessage) -> None:
        await self.nats.publish(message)

    async def __aenter__(self) -> Live:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.hub.close()

    def unsubscribed(self) -> bool:
        """Whether the first subscription was unsubscribed, read afresh on each call (mypy
        would keep an assert's narrowing of the attribute across the awaits that change it)."""
        return self.nats.subscriptions[0].unsubscribed

    async def settle(self) -> None:
        """Let the channels' tasks take in what was published (and read back what is missing)."""
        for _ in range(20):
            await asyncio.sleep(0)


async def test_the_listeners_of_a_channel_share_one_subscription_and_one_frame() -> None:
    async with Live() as live:
        first, second, other = Listener(), Listener(), Listener()
        await live.hub.join(CPU, first)
        await live.hub.join(CPU, second)
        await live.hub.join(parse_channel("series:host1:mem"), other)
        assert [s.subject for s in live.nats.subscriptions] == [
            CPU_LIVE,
            subjects.live_subject("metrics.host1.mem"),
        ]
        assert (live.hub.channel_count(), live.hub.listener_count()) == (2, 3)

        await live.publish(republished(batch("host1", "cpu", 0.5), 1))
        await live.publish(republished(batch("host2", "cpu", 0.7), 2))
        await live.settle()

        assert first.seqs == second.seqs == [1, 2]
        assert all(a is b for a, b in zip(first.deliveries, second.deliveries, strict=True))
        assert other.deliveries == []
        assert first.deliveries[1].frame == Data(
            channel="metric:cpu",
            seq=2,
            source="host2",
            name="cpu",
            points=[Point(time=datetime(2026, 1, 1, tzinfo=UTC), value=0.7)],
            unit="%",
        )
        assert first.deliveries[1].series == ("host2", "cpu")


async def test_a_message_delivered_already_is_not_delivered_again() -> None:
    async with Live() as live:
        listener = Listener()
        await live.hub.join(CPU, listener)
        for seq in (1, 2, 2, 1, 3):
            await live.publish(
                republished(batch("host1", "cpu", float(seq)), seq, previous=seq - 1)
            )
        await live.settle()
        assert listener.seqs == [1, 2, 3]
        assert live.hub.last_seq("metric:cpu") == 3


async def test_an_unusable_live_message_is_skipped_and_the_flow_goes_on() -> None:
    async with Live() as live:
        listener = Listener()
        await live.hub.join(CPU, listener)
        good = republished(batch("host1", "cpu", 1.0), 1)
        await live.publish(LiveMessage(good.subject, good.data, None))  # no sequence
        await live.publish(LiveMessage(good.subject, b"\xc1 not msgpack", good.headers))
        await live.publish(good)
        await live.settle()
        assert listener.seqs == [1]


async def test_a_bulk_imports_points_are_not_sent_live_nor_read_back_as_missed() -> None:
    """Imported history (``SeriesBatch.imported``) is stored, but nobody watching the series now
    gets it: neither when a hole is read back (2) nor as it is republished (5); its sequence
    still counts as seen, so the next message of its subject says nothing of a hole (6)."""
    async with Live() as live:
        listener = Listener()
        await live.hub.join(CPU, listener)
        history = msgspec.structs.replace(batch("host1", "cpu", 50.0), imported=True)
        live.stream.store(2, msgspec.structs.replace(history, source="host2"))
        live.stream.store(3, batch("host1", "cpu", 3.0))
        await live.publish(republished(batch("host1", "cpu", 1.0), 1))
        await live.publish(republished(batch("host1", "cpu", 4.0), 4, previous=3))
        await live.publish(republished(history, 5, previous=4))
        await live.publish(republished(batch("host1", "cpu", 6.0), 6, previous=5))
        await live.settle()
        assert listener.seqs == [1, 3, 4, 6]
        assert len(live.stream.reads) == 1  # the hole before 4, once
        assert live.hub.last_seq("metric:cpu") == 6


async def test_a_hole_in_a_subjects_sequence_is_read_back_from_the_stream_first() -> None:
    """Sequence 4 of host1 says the one before it was 2: 2 and 3 (another subject of the
    channel, missed in the same stretch) are read back and delivered before it."""
    async with Live() as live:
        listener = Listener()
        await live.hub.join(CPU, listener)
        live.stream.store(1, batch("host1", "cpu", 1.0))
        live.stream.store(2, batch("host1", "cpu", 2.0))
        live.stream.store(3, batch("host2", "cpu", 3.0))
        live.stream.store(4, batch("host1", "cpu", 4.0))
        await live.publish(republished(batch("host1", "cpu", 1.0), 1))
        await live.publish(republished(batch("host1", "cpu", 4.0), 4, previous=2))
        await live.settle()
        assert listener.seqs == [1, 2, 3, 4]
        [read] = live.stream.reads
        assert (read["subject"], read["after_seq"], read["queued"]) == (CPU.subject, 1, False)


async def test_a_subject_first_seen_after_a_hole_is_repaired_too() -> None:
    """host2's first message says the one before it was 2, after the channel's last
    delivery (1): 2 was missed, so it is read back before 3."""
    async with Live() as live:
        listener = Listener()
        await live.hub.join(CPU, listener)
        live.stream.store(1, batch("host1", "cpu", 1.0))
        live.stream.store(2, batch("host2", "cpu", 2.0))
        live.stream.store(3, batch("host2", "cpu", 3.0))
        await live.publish(republished(batch("host1", "cpu", 1.0), 1))
        await live.publish(republished(batch("host2", "cpu", 3.0), 3, previous=2))
        await live.settle()
        assert listener.seqs == [1, 2, 3]


async def test_the_first_message_of_a_new_channel_says_nothing_of_what_came_before_it() -> None:
    """A first message whose previous one was stored before the channel opened (the stream's
    last sequence then: 8) reads nothing back; opening waits until the server has the
    subscription."""
    async with Live() as live:
        for seq in range(1, 9):
            live.stream.store(seq, batch("host2", "cpu", float(seq)))
        listener = Listener()
        await live.hub.join(CPU, listener)
        assert live.nats.flushed == [1]
        await live.publish(republished(batch("host2", "cpu", 9.0), 9, previous=7))
        await live.settle()
        assert listener.seqs == [9]
        assert live.stream.reads == []


async def test_a_message_stored_as_the_channel_subscribed_and_not_republished_is_read_back() -> (
    None
):
    """nats-server may answer a SUB's PONG a moment before its JetStream republish sees the
    subscription: 3, stored then, reaches nobody. 4 names it as its previous one, after the
    stream's last sequence when the channel opened (2), so it is read back first."""
    async with Live() as live:
        live.stream.store(1, batch("host1", "cpu", 1.0))
        live.stream.store(2, batch("host2", "cpu", 2.0))
        listener = Listener()
        await live.hub.join(CPU, listener)
        live.stream.store(3, batch("host1", "cpu", 3.0))  # stored, never republished
        live.stream.store(4, batch("host1", "cpu", 4.0))
        await live.publish(republished(batch("host1", "cpu", 4.0), 4, previous=3))
        await live.settle()
        assert listener.seqs == [3, 4]
        [read] = live.stream.reads
        assert read["after_seq"] == 2


async def test_a_channel_opens_without_the_streams_bounds_when_jetstream_does_not_answer() -> None:
    async with Live() as live:

        async def away(stream: str) -> Any:
            raise TimeoutError("JetStream is away")

        live.stream.bounds = away  # type: ignore[method-assign]
        listener = Listener()
        await live.hub.join(CPU, listener)
        await live.publish(republished(batch("host2", "cpu", 9.0), 9, previous=7))
        await live.settle()
        assert listener.seqs == [9]  # nothing to check its chain against: delivered as is
        assert live.stream.reads == []


async def test_a_repair_that_fails_lets_the_flow_jump_and_resumes_over_it_read_the_stream() -> None:
    async with Live(RecentPolicy(frames=10, window_s=60)) as live:
        listener = Listener()
        await live.hub.join(CPU, listener)
        live.stream.failure = RuntimeError("JetStream is away")
        await live.publish(republished(batch("host1", "cpu", 1.0), 1))
        await live.publish(republished(batch("host1", "cpu", 4.0), 4, previous=2))
        await live.publish(republished(batch("host1", "cpu", 5.0), 5, previous=4))
        await live.settle()
        assert listener.seqs == [1, 4, 5]  # the flow goes on; its clients see the jump
        assert [d.seq for d in live.hub.recent("metric:cpu", 3) or []] == [4, 5]
        assert live.hub.recent("metric:cpu", 1) is None  # not from memory: 2 and 3 are not there


async def test_the_last_listener_leaving_closes_the_channel() -> None:
    async with Live() as live:
        first, second = Listener(), Listener()
        await live.hub.join(CPU, first)
        await live.hub.join(CPU, second)
        await live.hub.leave("metric:cpu", first)
        assert not live.unsubscribed()
        await live.hub.leave("metric:cpu", second)
        assert live.unsubscribed()
        assert live.hub.channel_count() == live.hub.kept_channel_count() == 0
        await live.hub.leave("metric:cpu", second)  # twice: nothing to do


async def test_with_a_resume_window_a_channel_without_listeners_stays_open_that_long() -> None:
    async with Live(RecentPolicy(frames=10, window_s=0.3)) as live:
        listener = Listener()
        await live.hub.join(CPU, listener)
        await live.publish(republished(batch("host1", "cpu", 1.0), 1))
        await live.settle()
        await live.hub.leave("metric:cpu", listener)
        assert live.hub.kept_channel_count() == 1
        await asyncio.sleep(0.05)

        back = Listener()  # a reconnect storm: its clients come straight back
        await live.hub.join(CPU, back)
        assert len(live.nats.subscriptions) == 1  # the same subscription
        assert [d.seq for d in live.hub.recent("metric:cpu", 0) or []] == [1]
        await asyncio.sleep(0.35)
        assert not live.unsubscribed()  # the close was called off

        await live.hub.leave("metric:cpu", back)
        await asyncio.sleep(0.45)
        assert live.unsubscribed()
        assert live.hub.kept_channel_count() == 0
