"""Slow and greedy HTTP clients, cut off inside the server (``make run`` has no proxy in front).

uvicorn closes an idle keep-alive connection, but a client that sends its request head or
body a byte at a time holds a connection, a socket and a request task for as long as it
likes, and one address may open any number of connections. :class:`GuardedH11Protocol` is
uvicorn's h11 protocol with three bounds (:class:`~.settings.ClientLimits`):

- the request head must arrive whole within ``header_timeout_s`` (from the connection's start,
  or from the answer to the previous request): else ``408`` if it had begun, and the
  connection is closed;
- a body may take ``body_timeout_s`` plus a second per ``body_min_rate`` bytes received: else
  ``408`` if no answer was started, and the connection is closed (also when the answer was
  sent without reading the body, which would otherwise let the rest of it trickle on);
- at most ``max_connections_per_client`` open connections per client address: more are
  answered ``429`` and closed at once, before anything is read.

The checks run on the protocol's events and two timers per connection, not per byte. Once a
connection is upgraded to a WebSocket, its head and body are done: it is no longer watched
(the socket's own heartbeat finds dead peers), but it still counts for its address.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable
from typing import Any, cast

import h11
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.h11_impl import H11Protocol

from .settings import ClientLimits


def _refusal(status: str, code: str, message: str, *headers: str) -> bytes:
    """A whole HTTP response ending the connection, written raw: it is sent where h11 has no
    request to answer (before one arrived) or must not send one (the app's is pending)."""
    body = json.dumps({"code": code, "message": message}).encode()
    head = [
        f"HTTP/1.1 {status}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        *headers,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


CUT_OFF = "pulse.cut_off"
"""Scope key: the status this server answered a request with itself when it cut the request
off while the app still waited for its body (the app's own answer then goes nowhere)."""

REQUEST_TIMEOUT = _refusal(
    "408 Request Timeout", "request_timeout", "the request was not sent in time"
)
TOO_MANY_CONNECTIONS = _refusal(
    "429 Too Many Requests",
    "too_many_connections",
    "too many connections from this address; close some and retry",
    "retry-after: 1",
)


class OpenConnections:
    """The open connections of each client address, capped.

    A connection counts from its acceptance until its transport closes. Plain HTTP ones are
    released when their protocol loses them; an upgraded WebSocket's protocol is uvicorn's
    own, so its transport stays listed until a check finds it closed: when its address is at
    the cap, or when the table has doubled since the last sweep.
    """

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._by_address: dict[str, set[asyncio.BaseTransport]] = {}
        self._sweep_at = 1024

    def admit(self, address: str, transport: asyncio.BaseTransport) -> bool:
        if not self._cap:
            return True
        held = self._by_address.get(address)
        if held is None:
            if len(self._by_address) >= self._sweep_at:
                self._sweep()
            held = self._by_address[address] = set()
        elif len(held) >= self._cap:
            held.difference_update([t for t in held if t.is_closing()])
            if len(held) >= self._cap:
                return False
        held.add(transport)
        return True

    def release(self, address: str, transport: asyncio.BaseTransport) -> None:
        held = self._by_address.get(address)
        if held is not None:
            held.discard(transport)
            if not held:
                del self._by_address[address]

    def _sweep(self) -> None:
        for address, held in list(self._by_address.items()):
            held.difference_update([t for t in held if t.is_closing()])
            if not held:
                del self._by_address[address]
        self._sweep_at = max(1024, 2 * len(self._by_address))


class _ResumeAwareFlow(FlowControl):
    """uvicorn's flow control, telling the protocol when it reads again after a pause (the
    app took what was buffered): the client was waiting for us meanwhile."""

    def __init__(self, transport: asyncio.Transport, on_resume: Callable[[], None]) -> None:
        super().__init__(transport)
        # Weakly: the protocol holds its flow control, and a strong reference back would make
        # a cycle that outlives the connection until a full garbage collection (every
        # upgraded WebSocket's h11 state, about 3 KB, kept after the upgrade).
        self._on_resume = weakref.WeakMethod(on_resume)

    def resume_reading(self) -> None:
        paused = self.read_paused
        super().resume_reading()
        if paused and (on_resume := self._on_resume()) is not None:
            on_resume()


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, bounded as the module says. Made per connection by uvicorn,
    with ``limits`` and the server's ``connections`` bound in (``functools.partial``)."""

    def __init__(
        self,
        *args: Any,
        limits: ClientLimits,
        connections: OpenConnections,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits
        self._open = connections
        self._address = ""
        self._admitted = False
        self._upgraded = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_started = 0.0
        self._body_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow = _ResumeAwareFlow(transport, self._reading_resumed)
        self._address = self.client[0] if self.client else ""
        if not self._open.admit(self._address, transport):
            transport.write(TOO_MANY_CONNECTIONS)
            transport.close()
            return
        self._admitted = True
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timers()
        if self._admitted:
            self._open.release(self._address, self.transport)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._body_timer is not None:
            self._body_bytes += len(data)
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        # The transport goes to uvicorn's WebSocket protocol: it stays counted for its
        # address (see OpenConnections), but its timers end here.
        self._upgraded = True
        self._admitted = False
        self._stop_timers()
        super().handle_websocket_upgrade(event)

    # the two deadlines

    def _watch(self) -> None:
        """Start or stop each deadline from what h11 awaits of the client now."""
        if self._upgraded or self.transport.is_closing():
            self._stop_timers()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(
                    self._limits.header_timeout_s, self._head_overdue
                )
        elif self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        if state is h11.SEND_BODY:
            if self._body_timer is None:
                self._body_started = self.loop.time()
                self._body_bytes = 0
                self._body_timer = self.loop.call_later(
                    self._limits.body_timeout_s, self._body_overdue
                )
        elif self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _head_overdue(self) -> None:
        self._head_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        if self.conn.trailing_data[0]:  # a head had begun; nothing at all is just an idle close
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()

    def _body_overdue(self) -> None:
        self._body_timer = None
        if self.conn.their_state is not h11.SEND_BODY or self.transport.is_closing():
            return
        now = self.loop.time()
        if self.flow.read_paused:
            # The app has not taken what arrived yet: the client waits for us. Its clock starts
            # again when reading goes on (_reading_resumed); look again a timeout later.
            left = self._limits.body_timeout_s
        else:
            rate = self._limits.body_min_rate
            earned = self._body_bytes / rate if rate else 0.0
            left = self._body_started + self._limits.body_timeout_s + earned - now
        if left > 0:
            self._body_timer = self.loop.call_later(left, self._body_overdue)
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            self.transport.write(REQUEST_TIMEOUT)
            cast(dict[str, Any], cycle.scope)[CUT_OFF] = 408  # for the access log
            # The app, waiting for the rest of the body, learns that the client is gone, and
            # whatever it answers now is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    def _reading_resumed(self) -> None:
        """The whole pause was ours, however long: the body's clock starts again now."""
        if self._body_timer is not None:
            self._body_started, self._body_bytes = self.loop.time(), 0

    def _stop_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None
