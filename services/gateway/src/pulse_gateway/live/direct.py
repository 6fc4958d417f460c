"""Writing a ready-made WebSocket frame straight to a socket's transport.

Fan-out to thousands of sockets is dominated by the per-socket cost of a send. Through ASGI
each send crosses Litestar's and uvicorn's layers, frames the message again, and awaits a
drain. Here a data frame is framed once per message (the gateway runs uvicorn without
per-message compression, so the bytes are the same for every client) and each caught-up
socket gets one ``transport.write``, as ``websockets.broadcast`` does. A socket whose transport
buffer is above the high-water mark, or that has frames queued in its outbox, takes the
ordinary path (the outbox and its writer), so order and backpressure are kept.

Only uvicorn's ``websockets`` protocol is recognised; with any other server every frame takes
the ordinary path.
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from websockets.protocol import State

HIGH_WATER_BYTES = 64 * 1024
_PROTOCOL_KEY = "pulse.websocket_protocol"
# uvicorn's protocols on the ``websockets`` library, recognised by module (importing the
# legacy one's base class raises a DeprecationWarning): the sans-I/O one (uvicorn's default)
# keeps the websockets state machine in ``.conn``, the legacy one is that state machine.
_UVICORN_SANSIO = "uvicorn.protocols.websockets.websockets_sansio_impl"
_UVICORN_LEGACY = "uvicorn.protocols.websockets.websockets_impl"

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


def expose_websocket_protocol(app: ASGIApp) -> ASGIApp:
    """Outermost ASGI layer: note the server's protocol object of a WebSocket in its scope
    (uvicorn's ``send`` is a method of it), before any middleware wraps ``send``."""

    def exposing(scope: MutableMapping[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        if scope["type"] == "websocket":
            owner = getattr(send, "__self__", None)
            if _uvicorn_protocol(owner) is not None:
                scope[_PROTOCOL_KEY] = owner
        return app(scope, receive, send)  # the app's coroutine: no frame of this layer

    return exposing


def _uvicorn_protocol(owner: object) -> str | None:
    """The module of the uvicorn protocol ``owner`` is (or extends), if it is one."""
    for cls in type(owner).__mro__:
        if cls.__module__ in (_UVICORN_SANSIO, _UVICORN_LEGACY):
            return cls.__module__
    return None


class DirectWriter:
    __slots__ = ("_machine", "_protocol")

    def __init__(self, protocol: Any) -> None:
        self._protocol = protocol
        # The websockets state machine: its state says whether the socket is still open.
        sansio = _uvicorn_protocol(protocol) == _UVICORN_SANSIO
        self._machine = protocol.conn if sansio else protocol

    @classmethod
    def for_scope(cls, scope: Mapping[str, object]) -> DirectWriter | None:
        protocol: Any = scope.get(_PROTOCOL_KEY)
        if protocol is None:
            return None  # another server: every frame takes the ordinary path
        writer = cls(protocol)
        if writer._machine.extensions:
            return None  # compression would need framing per socket
        return writer

    def write(self, frame: bytes) -> bool:
        """Write a whole frame now, or say no (closing, or the client is behind)."""
        transport = self._protocol.transport
        if self._machine.state is not State.OPEN or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > HIGH_WATER_BYTES:
            return False
        transport.write(frame)
        return True

    def abort(self) -> None:
        """Drop the connection at once, unsent frames and all."""
        self._protocol.transport.abort()


def frame_bytes(payload: bytes, *, binary: bool) -> bytes:
    """An unmasked, final server frame (RFC 6455 5.2) around ``payload``."""
    first = 0x82 if binary else 0x81
    size = len(payload)
    if size < 126:  # the RFC's three length encodings
        header = struct.pack("!BB", first, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", first, 126, size)
    else:
        header = struct.pack("!BBQ", first, 127, size)
    return header + payload


class SharedFrame:
    """A frame every socket gets alike (the heartbeat's ping), encoded once per wire format:
    sending it to ten thousand caught-up sockets allocates nothing per socket."""

    __slots__ = ("_encoded", "_wire")

    def __init__(self, text: str, binary: bytes) -> None:
        self._encoded: dict[bool, str | bytes] = {False: text, True: binary}
        self._wire = {
            False: frame_bytes(text.encode(), binary=False),
            True: frame_bytes(binary, binary=True),
        }

    def encoded(self, *, msgpack: bool) -> str | bytes:
        return self._encoded[msgpack]

    def wire(self, *, msgpack: bool) -> bytes:
        return self._wire[msgpack]
