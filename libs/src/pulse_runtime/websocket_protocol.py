"""uvicorn's WebSocket protocol, holding less for each open socket.

A gateway keeps ten thousand sockets open, most of them idle between frames, so what each one
holds is what the process costs. uvicorn's sans-I/O protocol (the default) keeps, per socket,
an ``asyncio.Queue`` for received messages (three deques, about 2.3 KB while empty), an
``asyncio.Event`` for write flow control (a deque, about 0.75 KB) and the handshake's response
with its headers for the socket's whole life. :class:`LeanWebSocketProtocol` is that protocol
with a :class:`Mailbox` and a :class:`Flag` in their place — the same operations, no deque
until someone waits — and the response dropped once it is sent. Measured with tracemalloc on
a gateway holding 2,000 sockets (docs/adr/0022-lean-websocket-protocol.md).
"""

from __future__ import annotations

import asyncio
from typing import Any, Generic, TypeVar

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

T = TypeVar("T")


class Mailbox(Generic[T]):
    """What uvicorn uses of ``asyncio.Queue`` (unbounded): ``put_nowait``, ``get``, ``empty``.

    Messages wait in a list; a reader that finds it empty waits on a future of its own."""

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: list[T] = []
        self._waiters: list[asyncio.Future[None]] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: T) -> None:
        self._items.append(item)
        waiters = self._waiters
        if waiters:
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
                    break

    def get_nowait(self) -> T:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    async def get(self) -> T:
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and self._items:
                    self._wake_next(waiter)  # it was woken: pass the message on
                raise
            finally:
                self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None
        return self._items.pop(0)

    def _wake_next(self, woken: asyncio.Future[None]) -> None:
        for waiter in self._waiters or ():
            if waiter is not woken and not waiter.done():
                waiter.set_result(None)
                return


class Flag:
    """What uvicorn uses of ``asyncio.Event``: ``set``, ``clear``, ``is_set``, ``wait``.

    Starts set (uvicorn sets its ``writable`` at once); waiters are kept only while there are
    some, which for a socket that keeps up is never."""

    __slots__ = ("_value", "_waiters")

    def __init__(self, value: bool = True) -> None:
        self._value = value
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if self._value:
            return
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
        return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol with a :class:`Mailbox` and a :class:`Flag`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue: Any = Mailbox()
        self.writable: Any = Flag(True)

    def start_keepalive(self) -> None:
        """Called once the handshake's response is sent: it is not needed again."""
        super().start_keepalive()
        del self.response
