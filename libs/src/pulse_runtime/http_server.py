"""uvicorn inside a service's own lifecycle: started as a task, stopped on request.

uvicorn's own signal capture is disabled: it would re-raise SIGTERM after serving and end the
process before the service drained NATS. The service's :class:`~.service.Lifecycle` owns it.
HTTP is always uvicorn's h11 protocol, bounded against slow and greedy clients
(:mod:`~.client_guard`), whether or not httptools is installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Generator
from typing import Any, cast

import uvicorn

from .client_guard import GuardedH11Protocol, OpenConnections
from .settings import ClientLimits
from .websocket_protocol import LeanWebSocketProtocol


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class HttpServer:
    def __init__(
        self,
        app: Any,
        *,
        host: str,
        port: int,
        limits: ClientLimits,
        ws_max_size: int = 1 << 20,
        ws_ping_interval: float | None = 20,
        ws_per_message_deflate: bool = True,
    ) -> None:
        # Any: uvicorn's ASGI type and Litestar's do not line up for the type checker.
        self._server = _Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_config=None,
                access_log=False,
                # Who the client is behind a proxy is decided by PULSE_TRUSTED_PROXIES
                # (web/client_address.py); uvicorn's own would believe anyone on 127.0.0.1.
                proxy_headers=False,
                lifespan="on",
                # Said, not guessed: an outer layer may be a plain function returning the
                # app's coroutine (no frame of its own per WebSocket), which uvicorn's guess
                # would take for ASGI 2.
                interface="asgi3",
                # uvicorn calls this as it would the protocol class (config, server_state...).
                http=cast(
                    Any,
                    functools.partial(
                        GuardedH11Protocol,
                        limits=limits,
                        connections=OpenConnections(limits.max_connections_per_client),
                    ),
                ),
                ws=LeanWebSocketProtocol,  # uvicorn's sans-I/O one, holding less per socket
                ws_max_size=ws_max_size,  # a bigger frame closes the socket with 1009
                ws_ping_interval=ws_ping_interval,
                ws_ping_timeout=20,
                ws_per_message_deflate=ws_per_message_deflate,
                timeout_graceful_shutdown=5,
            )
        )
        self._serving: asyncio.Task[None] | None = None

    async def start(self) -> bool:
        """Serve in the background; False if it could not listen (the error is logged)."""
        self._serving = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._serving.done():
                with contextlib.suppress(SystemExit):
                    self._serving.result()  # uvicorn exits on a bind failure
                return False
            await asyncio.sleep(0.05)
        return True

    async def stop(self) -> None:
        if self._serving is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._serving
            self._serving = None
