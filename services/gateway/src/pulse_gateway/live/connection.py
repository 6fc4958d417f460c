"""What every live socket has, ``/ws`` and ``/ws/metrics`` alike: its token's claims, its
outgoing frames, and its close.

The write path: a frame for a caught-up socket (nothing waiting in its outbox, its transport
buffer under the high-water mark) is written at once, straight to the transport
(``direct.py``), with no task switch and nothing allocated for the socket; otherwise it waits
in the outbox (``backpressure.py``, the slow-consumer policy) and a writer task, which exists
only while the outbox holds frames, sends it in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from pulse_runtime.access_tokens import AccessClaims

from pulse_gateway.settings import WebSocketSettings

from .backpressure import GapPayload, Outbox, let_go
from .direct import DirectWriter, SharedFrame
from .fanout import Delivery
from .frames import FrameCodec, ServerFrame


class FrameCounts:
    """Data frames sent by all sockets of a gateway: written directly, or through an outbox."""

    def __init__(self) -> None:
        self.direct = 0
        self.queued = 0


class LiveConnection:
    """One open live socket as the gateway holds it (the subclasses add what they speak)."""

    __slots__ = (
        "_closer", "_closing", "_counts", "_direct", "_msgpack", "_peer_close_code",
        "_refused_with", "_writer", "_writing", "claims", "frames", "frames_in", "frames_out",
        "outbox", "settings", "socket",
    )  # fmt: skip

    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        *,
        frames: FrameCodec,
        settings: WebSocketSettings,
        msgpack: bool,
        counts: FrameCounts,
        outbox_frames: int,
        gap: GapPayload,
    ) -> None:
        self.socket = socket
        self.settings = settings
        self.claims: AccessClaims | None = None
        self._counts = counts
        self.frames = frames
        self._msgpack = msgpack
        self._closing: tuple[int, str] | None = None
        self._direct = DirectWriter.for_scope(socket.scope)
        self._writer: asyncio.Task[None] | None = None  # only while the outbox has frames
        self._writing = False
        self._closer: asyncio.Task[None] | None = None
        self.outbox = Outbox(outbox_frames, settings.slow_consumer_grace_s, gap)
        self.frames_in = 0  # frames received and sent, for the session's access record
        self.frames_out = 0
        self._refused_with: int | None = None
        self._peer_close_code: int | None = None

    # -- closing -------------------------------------------------------------------------------

    @property
    def close_code(self) -> int | None:
        """The code the gateway closed this socket with, if it did."""
        return None if self._closing is None else self._closing[0]

    @property
    def ended_with(self) -> int | None:
        """The code the session ended with, for its access record: the gateway's close (a
        refused authentication's too), else the client's, else None (the connection broke)."""
        if self._closing is not None:
            return self._closing[0]
        return self._refused_with if self._refused_with is not None else self._peer_close_code

    def refused(self, code: int) -> None:
        """The socket was closed with ``code`` before it was served (authentication)."""
        self._refused_with = code

    def close(self, code: int, reason: str) -> None:
        """Close the socket with ``code``; the read loop then ends with the disconnect."""
        if self._closing is None:
            self._closing = (code, reason)
            if self._writer is not None:
                self._writer.cancel()
            self._closer = asyncio.get_running_loop().create_task(self._close_socket())

    async def _close_socket(self) -> None:
        """Send the close frame; a client that reads nothing would never let it through (the
        server's send waits for room), so after the close timeout the connection is cut."""
        assert self._closing is not None
        try:
            await asyncio.wait_for(
                self.socket.close(code=self._closing[0], reason=self._closing[1]),
                self.settings.close_timeout_s,
            )
        except TimeoutError:
            if self._direct is not None:
                self._direct.abort()  # the read loop then ends with the disconnect
        except (WebSocketDisconnect, OSError, RuntimeError):
            pass  # already gone: nothing left to close

    # -- the write path ------------------------------------------------------------------------

    def send(self, frame: ServerFrame) -> None:
        """A control frame for this socket alone: always through the outbox (never dropped)."""
        if self._closing is not None:
            return
        self.outbox.control(self.frames.encode(frame, msgpack=self._msgpack))
        self._start_writer()

    def send_shared(self, frame: SharedFrame) -> None:
        """A control frame the same for every socket: written at once when caught up."""
        if self._closing is not None:
            return
        if not self._write_now(frame.wire(msgpack=self._msgpack)):
            self.outbox.control(frame.encoded(msgpack=self._msgpack))
            self._start_writer()

    def send_data(self, delivery: Delivery) -> None:
        """A ``/ws`` data frame: the same ready-made frame for every socket of the channel."""
        if self._closing is not None:
            return
        if self._write_now(delivery.wire(msgpack=self._msgpack)):
            self._counts.direct += 1
            return
        self._queue_data(delivery, delivery.encoded(msgpack=self._msgpack))

    def _write_now(self, wire: bytes) -> bool:
        """The common case: caught up, so the frame is written at once, with no task switch
        and nothing allocated for this socket; False when it must wait its turn."""
        direct = self._direct
        if direct is not None and not self._writing and not len(self.outbox) and direct.write(wire):
            self.frames_out += 1
            return True
        return False

    def _queue_data(self, delivery: Delivery, payload: str | bytes | list[str]) -> None:
        """Behind: the frame waits its turn in the outbox, unless the client is let go."""
        self._counts.queued += 1
        if not self.outbox.data(delivery.frame.channel, delivery.series, delivery.seq, payload):
            let_go(self)
            return
        self._start_writer()

    def _start_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        """Sends what the outbox holds, then ends (a socket that keeps up needs no task)."""
        try:
            while len(self.outbox):
                self._writing = True
                payload = await self.outbox.next()
                if isinstance(payload, str):
                    await self.socket.send_text(payload)
                    self.frames_out += 1
                elif isinstance(payload, bytes):
                    await self.socket.send_bytes(payload)
                    self.frames_out += 1
                else:
                    for text in payload:  # /ws/metrics: one frame per point
                        await self.socket.send_text(text)
                        self.frames_out += 1
        except WebSocketDisconnect:
            pass
        finally:
            self._writing = False
            self._writer = None  # a finished task would stay referenced for the socket's life

    async def _stop_writing(self) -> None:
        """At the end of the socket's life: the writer, if one is running, is cancelled."""
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer

    async def _receive(self) -> str | bytes | None:
        """The next frame's data; None once the client has gone."""
        event = await self.socket.receive()
        if event["type"] != "websocket.receive":
            if event["type"] == "websocket.disconnect":
                self._peer_close_code = event.get("code")
            return None
        self.frames_in += 1
        text = event.get("text")
        return text if text is not None else event.get("bytes") or b""
