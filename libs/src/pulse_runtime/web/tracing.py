"""Each HTTP request's trace context, and one canonical log line per request.

The request's ``traceparent`` (else a new one) is bound for every log line the request causes
and answered in the ``traceparent`` header, so a client, the access log and every NATS hop
behind the request share one trace id.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from pulse_runtime.client_guard import CUT_OFF
from pulse_runtime.logging import get_logger
from pulse_runtime.tracing import TRACEPARENT, trace_id_of, traceparent_from

from .latency import RequestLatency

current_traceparent: ContextVar[str] = ContextVar("current_traceparent")
"""The ``traceparent`` of the request being handled (set by :func:`trace_requests`)."""


def _traceparent_of(scope: Scope) -> str:
    incoming = {
        key.decode("latin-1"): value.decode("latin-1")
        for key, value in scope["headers"]
        if key == TRACEPARENT.encode()
    }
    return traceparent_from(incoming)


def trace_requests(
    logger: str, quiet_paths: Iterable[str], latency: RequestLatency | None = None
) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware: the request's trace id (its ``traceparent``, else a new one) is bound for
    every log line it causes and answered in the ``traceparent`` header; one ``request`` line
    on ``logger`` per HTTP request, and its duration in ``latency``, except for
    ``quiet_paths`` (probes and scrapes)."""
    access_log = get_logger(logger)
    quiet = frozenset(quiet_paths)

    def wrap(app: ASGIApp) -> ASGIApp:
        async def traced_request(scope: Scope, receive: Receive, send: Send) -> None:
            traceparent = _traceparent_of(scope)
            token = current_traceparent.set(traceparent)
            structlog.contextvars.bind_contextvars(trace_id=trace_id_of(traceparent))
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

            path = scope["path"]  # routing may rewrite the scope's (a mounted app's)
            try:
                await app(scope, receive, send_with_trace)
            finally:
                if path not in quiet:
                    elapsed = time.perf_counter() - started
                    cut_off = scope.get(CUT_OFF)  # the client got 408, not the app's answer
                    answered = cut_off if isinstance(cut_off, int) else status
                    access_log.info(
                        "request",
                        method=scope.get("method"),
                        path=path,
                        status=answered,
                        duration_ms=round(elapsed * 1000, 2),
                    )
                    if latency is not None:
                        route = scope.get("path_template")
                        latency.observe(str(scope.get("method")), route, answered, elapsed)
                structlog.contextvars.unbind_contextvars("trace_id")
                current_traceparent.reset(token)

        def middleware(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
            if scope["type"] == ScopeType.HTTP:
                return traced_request(scope, receive, send)
            if scope["type"] == ScopeType.WEBSOCKET:
                # A WebSocket runs in a task of its own (the server's), whose context ends with
                # it: the trace id stays bound for the socket's life and needs no reset. So this
                # layer hands back the app's own coroutine and keeps no frame per socket.
                traceparent = _traceparent_of(scope)
                current_traceparent.set(traceparent)
                structlog.contextvars.bind_contextvars(trace_id=trace_id_of(traceparent))
            return app(scope, receive, send)

        return middleware

    return wrap
