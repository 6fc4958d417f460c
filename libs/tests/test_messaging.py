"""A handler that takes the raw message gets it without a thread hand-off per message (FastStream's
in-memory test broker: the handler chain is the real one, nothing is sent anywhere)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import anyio.to_thread
import pytest
from faststream import Context
from faststream.nats import NatsBroker, TestNatsBroker
from faststream.nats.message import NatsMessage
from pulse_runtime.messaging import RawMessage, skip_decoding

SUBJECT = "test.raw"
FaststreamsOwn = Annotated[NatsMessage, Context("message")]


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> list[Callable[..., Any]]:
    """Every function run in a worker thread through anyio (as fast_depends does)."""
    calls: list[Callable[..., Any]] = []
    real = anyio.to_thread.run_sync

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        calls.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return calls


async def received_with(annotation: Any) -> list[bytes]:
    broker = NatsBroker()
    got: list[bytes] = []

    @broker.subscriber(SUBJECT, decoder=skip_decoding)
    async def handler(message: annotation) -> None:
        got.append(message.raw_message.data)

    async with TestNatsBroker(broker) as test_broker:
        for number in range(3):
            await test_broker.publish(f"m{number}".encode(), SUBJECT)
    return got


async def test_the_raw_message_is_resolved_on_the_event_loop(
    threads: list[Callable[..., Any]],
) -> None:
    assert await received_with(RawMessage) == [b"m0", b"m1", b"m2"]
    assert threads == []


async def test_faststreams_own_context_takes_a_thread_per_message(
    threads: list[Callable[..., Any]],
) -> None:
    """Why RawMessage is not FastStream's Context: if this stops failing to hold (a FastStream
    that resolves context fields in place), RawMessage can go back to it."""
    assert await received_with(FaststreamsOwn) == [b"m0", b"m1", b"m2"]
    assert len(threads) == 3
