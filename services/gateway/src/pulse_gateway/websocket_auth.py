"""Authentication of a WebSocket: in-band, renewable, closed when it lapses."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from pulse_runtime.access_tokens import AccessClaims

from .security import KeyRing, Unauthenticated, bearer_token

WS_UNAUTHENTICATED = 4401
"""Close code: no valid token in time, an invalid one, or the token expired unrenewed."""
WS_FORBIDDEN = 4403
AUTH_TIMEOUT_S = 5.0


class AuthMessage(msgspec.Struct, frozen=True, tag="auth"):
    token: str


_decode_auth = msgspec.json.Decoder(AuthMessage)


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
        token = bearer_token(socket.headers.get("authorization"))
        try:
            if token is None:
                raw = await asyncio.wait_for(socket.receive_text(), AUTH_TIMEOUT_S)
                token = _decode_auth.decode(raw).token
            claims = await keyring.verify(token)
        except (TimeoutError, msgspec.ValidationError, msgspec.DecodeError):
            await socket.close(code=WS_UNAUTHENTICATED, reason="authentication required")
            return None
        except Unauthenticated as exc:
            await socket.close(code=WS_UNAUTHENTICATED, reason=f"invalid token ({exc.code})")
            return None
        except WebSocketDisconnect:
            return None
        return cls(socket, keyring, claims)

    async def read_until_closed(self) -> None:
        """Renewals arrive here; anything else a client sends is ignored for now."""
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                raw = await self._socket.receive_text()
                try:
                    token = _decode_auth.decode(raw).token
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
            remaining = self.claims.exp - time.time()
            if remaining <= 0 or self._keyring.is_revoked(self.claims):
                await self._socket.close(code=WS_UNAUTHENTICATED, reason="token expired")
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._renewed.wait(), min(remaining, 1.0))
