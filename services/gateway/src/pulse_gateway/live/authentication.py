"""Authentication of a WebSocket: in-band, renewable, closed when it lapses."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from pulse_contracts import decode_untrusted
from pulse_runtime.access_tokens import AccessClaims

from pulse_gateway.identity.keyring import KeyRing, Unauthenticated, bearer_token

from .frames import CLOSE_UNAUTHENTICATED, Auth

AUTH_TIMEOUT_S = 5.0

_decode_auth = msgspec.json.Decoder(Auth)


def lapsed(claims: AccessClaims, keyring: KeyRing, now: float) -> str | None:
    """Why a socket authenticated with ``claims`` must close (4401) at wall time ``now``:
    ``"token revoked"``, ``"token expired"``, or None while the token holds."""
    if keyring.is_revoked(claims):
        return "token revoked"
    if claims.exp <= now:
        return "token expired"
    return None


async def authenticate(
    socket: WebSocket[Any, Any, Any],
    keyring: KeyRing,
    first_frame_token: Callable[[], Awaitable[str]],
) -> AccessClaims | None:
    """The claims of the handshake's ``Authorization: Bearer`` token, else of the token in
    the first frame (``first_frame_token`` reads it; msgspec errors mean a bad frame). On
    failure the socket is closed with 4401 and None returned; None also if the client left.
    """
    token = bearer_token(_header(socket.scope, b"authorization"))
    try:
        if token is None:
            token = await asyncio.wait_for(first_frame_token(), AUTH_TIMEOUT_S)
        return await keyring.verify(token)
    except (TimeoutError, msgspec.DecodeError):
        reason = "authentication required"
    except Unauthenticated as exc:
        reason = f"invalid token ({exc.code})"
    except WebSocketDisconnect:
        return None
    with contextlib.suppress(WebSocketDisconnect, OSError, RuntimeError):
        await socket.close(code=CLOSE_UNAUTHENTICATED, reason=reason)
    return None


def _header(scope: Any, name: bytes) -> str | None:
    """A request header straight from the ASGI scope: Litestar's parsed headers object would
    be kept for the socket's whole life (about a kilobyte each, ten thousand sockets)."""
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


class SocketSession:
    def __init__(
        self, socket: WebSocket[Any, Any, Any], keyring: KeyRing, claims: AccessClaims
    ) -> None:
        self._socket = socket
        self._keyring = keyring
        self.claims = claims
        self._renewed = asyncio.Event()

    @classmethod
    async def open(cls, socket: WebSocket[Any, Any, Any], keyring: KeyRing) -> SocketSession | None:
        """Authenticate from the handshake header or the first message; None if closed."""

        async def first_frame_token() -> str:
            return decode_untrusted(_decode_auth, await socket.receive_text()).token

        claims = await authenticate(socket, keyring, first_frame_token)
        return None if claims is None else cls(socket, keyring, claims)

    async def read_until_closed(self) -> None:
        """Renewals arrive here; anything else a client sends is ignored for now."""
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                raw = await self._socket.receive_text()
                try:
                    token = decode_untrusted(_decode_auth, raw).token
                    claims = await self._keyring.verify(token)
                except (msgspec.ValidationError, msgspec.DecodeError, Unauthenticated):
                    continue
                if claims.sub == self.claims.sub:
                    self.claims = claims
                    self._renewed.set()

    async def expire(self) -> None:
        """Close with 4401 at expiry (or revocation) unless a fresh token came first."""
        while True:
            self._renewed.clear()
            now = time.time()
            if reason := lapsed(self.claims, self._keyring, now):
                await self._socket.close(code=CLOSE_UNAUTHENTICATED, reason=reason)
                return
            remaining = self.claims.exp - now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._renewed.wait(), min(remaining, 1.0))
