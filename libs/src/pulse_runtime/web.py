"""The edge of a Pulse HTTP service (Litestar; the ``web`` extra): the request's trace context
with one canonical log line per request, and routes that declare who may use them.

Used by the gateway and by ingest. Each route says ``opt={"access": <level>}``; the service's
guard enforces its levels, and :func:`undeclared_routes` lets the app refuse to start with a
route that says nothing (which a guard would otherwise have to guess about).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import structlog
from litestar import Litestar, Request
from litestar.enums import ScopeType
from litestar.exceptions import ClientException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import SecurityRequirement
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from pulse_contracts import UNDECODABLE, undecodable_reason

from .client_guard import CUT_OFF
from .logging import get_logger
from .tracing import TRACEPARENT, trace_id_of, traceparent_from

current_traceparent: ContextVar[str] = ContextVar("current_traceparent")
"""The ``traceparent`` of the request being handled (set by :func:`trace_requests`)."""


def trace_requests(logger: str, quiet_paths: Iterable[str]) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware: the request's trace id (its ``traceparent``, else a new one) is bound for
    every log line it causes and answered in the ``traceparent`` header; one ``request`` line
    on ``logger`` per HTTP request, except for ``quiet_paths`` (probes and scrapes)."""
    access_log = get_logger(logger)
    quiet = frozenset(quiet_paths)

    def wrap(app: ASGIApp) -> ASGIApp:
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

            http = scope["type"] == ScopeType.HTTP
            try:
                # A WebSocket has no response headers to add to: its send stays unwrapped (one
                # closure less per socket, kept for the socket's whole life).
                await app(scope, receive, send_with_trace if http else send)
            finally:
                if http and scope["path"] not in quiet:
                    access_log.info(
                        "request",
                        method=scope.get("method"),
                        path=scope["path"],
                        status=scope.get(CUT_OFF, status),  # the client got 408, not the app's
                        duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    )
                structlog.contextvars.unbind_contextvars("trace_id")
                current_traceparent.reset(token)

        return middleware

    return wrap


class UntrustedBodyRequest(Request[Any, Any, Any]):
    """A Litestar request whose JSON or msgpack body, when msgspec cannot take it apart (nested
    too deeply, invalid UTF-8), is a client's error (400) like any malformed body, not an
    internal error (500). Litestar decodes a body to ``Any`` first and expects only
    ``msgspec.DecodeError``; msgspec raises ``RecursionError`` or ``UnicodeDecodeError`` there.
    An app takes it as ``Litestar(request_class=UntrustedBodyRequest)``.
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except UNDECODABLE as exc:
            raise ClientException(f"malformed body: {undecodable_reason(exc)}") from None

    async def msgpack(self) -> Any:
        try:
            return await super().msgpack()
        except UNDECODABLE as exc:
            raise ClientException(f"malformed body: {undecodable_reason(exc)}") from None


def access_of(handler: BaseRouteHandler) -> str | None:
    """The handler's declared access; Litestar's own OPTIONS (CORS preflight) handlers are
    public, as a preflight never carries credentials."""
    access = handler.opt.get("access")
    if access is None and handler.handler_name == "options_handler":
        return "public"
    return access if isinstance(access, str) else None


def undeclared_routes(app: Litestar, levels: Collection[str]) -> list[str]:
    """Routes whose handlers declare no access, or one outside ``levels``: an app refuses to
    start with any."""
    missing = []
    for route in app.routes:
        handlers = route.route_handlers if isinstance(route, HTTPRoute) else [route.route_handler]
        for handler in handlers:
            if access_of(handler) not in levels:
                missing.append(f"{route.path} ({handler.handler_name})")
    return missing


def document_access(
    app: Litestar,
    refusals: Mapping[str, Mapping[int, ResponseSpec]],
    security: Sequence[SecurityRequirement],
) -> None:
    """Make the OpenAPI document say what the app's guard does, route by route: the refusals
    of the route's access level (``refusals[access]``: 401, 403 …) and, for every route that
    is not public, the credentials it takes (``security``). A route's own ``responses`` win,
    so a handler may describe a status more precisely. Call it on a new app: the document is
    built on first use, from these handlers (the app's own copies of them)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            access = access_of(handler)
            if access is None:
                continue
            handler.responses = {**refusals.get(access, {}), **(handler.responses or {})}
            if access != "public":
                handler.security = list(security)
