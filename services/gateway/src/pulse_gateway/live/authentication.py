"""Authentication of a live socket: in-band or on the handshake; when it lapses.

Renewal is each socket's own (an ``auth`` frame with a fresh token of the same user); the
registry's sweep closes a socket whose token :func:`lapsed` with 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect
from pulse_runtime.access_tokens import AccessClaims

from pulse_gateway.identity.keyring import KeyRing, Unauthenticated, bearer_token

from .frames import CLOSE_UNAUTHENTICATED

AUTH_TIMEOUT_S = 5.0


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
    refused: Callable[[int], object] = lambda _code: None,
) -> AccessClaims | None:
    """The claims of the handshake's ``Authorization: Bearer`` token, else of the token in
    the first frame (``first_frame_token`` reads it; msgspec errors mean a bad frame). On
    failure the socket is closed with 4401 (told to ``refused``) and None returned; None
    also if the client left.
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
    refused(CLOSE_UNAUTHENTICATED)
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
