"""Per-request trace context and one canonical log line per request."""

from __future__ import annotations

import time
from contextvars import ContextVar

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from pulse_runtime.logging import get_logger
from pulse_runtime.tracing import TRACEPARENT, trace_id_of, traceparent_from

log = get_logger("pulse_gateway.access")

current_traceparent: ContextVar[str] = ContextVar("current_traceparent")
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def trace_requests(app: ASGIApp) -> ASGIApp:
    """Bind the request's trace id (from ``traceparent`` or new) for every log line it causes."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        incoming = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope["headers"]
            if key == TRACEPARENT.encode()
        }
        traceparent = traceparent_from(incoming)
        token = current_traceparent.set(traceparent)
        trace_id = trace_id_of(traceparent)
        structlog.contextvars.bind_contextvars(trace_id=trace_id)
        status = 0
        started = time.perf_counter()

        async def send_with_trace(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (TRACEPARENT.encode(), traceparent.encode()),
                ]
            await send(message)

        try:
            # A WebSocket has no response headers to add to: its send stays unwrapped (one
            # closure less per socket, kept for the socket's whole life).
            await app(scope, receive, send_with_trace if scope["type"] == ScopeType.HTTP else send)
        finally:
            if scope["type"] == ScopeType.HTTP and scope["path"] not in _QUIET_PATHS:
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("trace_id")
            current_traceparent.reset(token)

    return middleware
