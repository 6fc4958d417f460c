"""The lean WebSocket protocol's queue and flag behave as the asyncio ones uvicorn expects."""

from __future__ import annotations

import asyncio
import tracemalloc

import pytest
from pulse_runtime.websocket_protocol import Flag, LeanWebSocketProtocol, Mailbox
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState


async def test_mailbox_hands_messages_over_in_order() -> None:
    box: Mailbox[int] = Mailbox()
    assert box.empty()
    box.put_nowait(1)
    box.put_nowait(2)
    assert not box.empty()
    assert box.qsize() == 2
    assert await box.get() == 1
    assert box.get_nowait() == 2
    with pytest.raises(asyncio.QueueEmpty):
        box.get_nowait()


async def test_a_waiting_reader_gets_the_next_message() -> None:
    box: Mailbox[str] = Mailbox()
    reader = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    assert not reader.done()
    box.put_nowait("connect")
    assert await asyncio.wait_for(reader, 1) == "connect"
    assert box.empty()


async def test_a_cancelled_reader_loses_no_message() -> None:
    box: Mailbox[str] = Mailbox()
    first = asyncio.create_task(box.get())
    second = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    box.put_nowait("only")  # wakes the first reader...
    first.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 1) == "only"


async def test_flag_lets_waiters_through_only_while_set() -> None:
    flag = Flag(True)
    assert flag.is_set()
    assert await flag.wait()
    flag.clear()
    assert not flag.is_set()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    flag.set()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True, True, True]


async def test_a_cancelled_flag_waiter_is_forgotten() -> None:
    flag = Flag(False)
    waiter = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    flag.set()
    assert flag.is_set()


def _protocol_bytes(cls: type[WebSocketsSansIOProtocol], loop: asyncio.AbstractEventLoop) -> int:
    config = Config(app=lambda *_: None, ws=cls)
    config.load()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        protocols = [
            cls(config=config, server_state=ServerState(), app_state={}, _loop=loop)
            for _ in range(100)
        ]
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del protocols
    return used // 100


async def test_the_lean_protocol_holds_less_per_socket() -> None:
    loop = asyncio.get_running_loop()
    lean = _protocol_bytes(LeanWebSocketProtocol, loop)
    stock = _protocol_bytes(WebSocketsSansIOProtocol, loop)
    assert lean < stock - 2000, (lean, stock)  # a queue's three deques and an event's one
