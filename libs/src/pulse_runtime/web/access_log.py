"""The access log: one :class:`~pulse_contracts.audit.AccessRecord` per HTTP request answered,
handed to the app's audit sink (``app.state.audit``, the process's recorder), which never
blocks (docs/audit.md).

The middleware wraps the whole app (inside :func:`~.tracing.trace_requests`, whose trace id it
records, and outside Litestar, so a 404 or 405 no route gave is recorded too). It watches the
ASGI messages go by without changing them: the first bytes of the request's body as the
handler reads it and of the answer as it is sent, at most the bound of each
(:class:`~.bodies.BodyCapture`), the status, and, after routing, the route template and the
authenticated user (``scope["user"]``: an access token's claims, or an API key). When the
answer is complete the record is made: headers, query string and bodies redacted
(:mod:`.redaction`, :mod:`.bodies`), the client's address as :mod:`.client_address` resolved
it. A WebSocket is not recorded here: the service records its session at its close
(:func:`socket_record`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from pulse_contracts.accounts import ApiKeyIdentity
from pulse_contracts.audit import AccessRecord

from pulse_runtime.access_tokens import AccessClaims
from pulse_runtime.audit import RecordSink, new_key
from pulse_runtime.client_guard import CUT_OFF
from pulse_runtime.logging import get_logger
from pulse_runtime.settings import AccessLogSettings
from pulse_runtime.tracing import trace_id_of

from .app import AUDIT_STATE
from .bodies import BodyCapture, stored_body
from .redaction import redact_headers, redact_query
from .tracing import current_traceparent

log = get_logger(__name__)

ERROR_STATUS = 400
"""From this status up an answer is an error, kept up to the larger bound."""
_CONTENT_TYPE = b"content-type"


def user_id_of(scope: Scope) -> str | None:
    """Who the request was authenticated as: an access token's user, or ``api_key:<id>`` for
    an API key (ingest's producers); None for a request that was not (or not yet)."""
    user = scope.get("user")
    if isinstance(user, AccessClaims):
        return user.sub
    if isinstance(user, ApiKeyIdentity):
        return f"api_key:{user.api_key_id}"
    return None


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _concrete_path(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{scope['path']}?{redact_query(query)}" if query else str(scope["path"])


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def record_access(
    app: Litestar,
    settings: AccessLogSettings,
    *,
    service: str,
    quiet_paths: Iterable[str] = (),
) -> Callable[[ASGIApp], ASGIApp]:
    """Middleware recording every HTTP request but those to ``quiet_paths`` (probes, scrapes)
    into ``app.state.audit``; nothing at all (the app as it is) when ``app`` has no sink or
    the access log is off (``PULSE_ACCESS_LOG=false``)."""
    sink: RecordSink | None = app.state.get(AUDIT_STATE)
    quiet = frozenset(quiet_paths)

    def wrap(inner: ASGIApp) -> ASGIApp:
        if sink is None or not settings.access_log:
            return inner
        recorder = _AccessRecorder(sink, settings, service)

        def middleware(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
            if scope["type"] != ScopeType.HTTP or scope["path"] in quiet:
                return inner(scope, receive, send)
            return recorder.recorded(inner, scope, receive, send)

        return middleware

    return wrap


class _Exchange:
    """What the access log saw of one request as it went by."""

    __slots__ = ("content_type", "path", "request_body", "response_body", "started", "status")

    def __init__(self, path: str, limit: int, error_limit: int) -> None:
        self.started = time.perf_counter()
        self.path = path
        self.request_body = BodyCapture(limit)
        self.response_body = BodyCapture(error_limit)
        self.status = 0
        self.content_type: str | None = None


class _AccessRecorder:
    """Makes the records of one app's requests."""

    __slots__ = ("_error_limit", "_limit", "_service", "_sink")

    def __init__(self, sink: RecordSink, settings: AccessLogSettings, service: str) -> None:
        self._sink = sink
        self._service = service
        self._limit = settings.access_log_body_bytes
        self._error_limit = max(settings.access_log_error_body_bytes, self._limit)

    async def recorded(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        # The path before routing, which may rewrite the scope's (a mounted app's).
        seen = _Exchange(_concrete_path(scope), self._limit, self._error_limit)

        async def receive_seen() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                seen.request_body.add(message.get("body", b""))
            return message

        async def send_seen(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen.status = message["status"]
                seen.content_type = _header(message.get("headers", ()), _CONTENT_TYPE)
            elif message["type"] == "http.response.body":
                seen.response_body.add(message.get("body", b""))
            await send(message)

        try:
            await app(scope, receive_seen, send_seen)
        finally:
            try:
                self._sink.record(self._record(scope, seen))
            except Exception:
                log.exception("access record not made", path=seen.path.partition("?")[0])

    def _record(self, scope: Scope, seen: _Exchange) -> AccessRecord:
        duration_s = time.perf_counter() - seen.started
        cut_off: int | None = scope.get(CUT_OFF)  # type: ignore[assignment]
        status = cut_off or seen.status or 500  # no answer at all: the app broke
        headers = scope["headers"]
        limit = self._error_limit if status >= ERROR_STATUS else self._limit
        request = seen.request_body
        return AccessRecord(
            key=new_key(),
            trace_id=trace_id_of(current_traceparent.get(None)) or "",
            service=self._service,
            method=str(scope.get("method", "")),
            route=str(scope.get("path_template") or ""),
            path=seen.path,
            request_header=redact_headers(headers),
            request_body=stored_body(
                request.data,
                max(request.total, _content_length(headers)),
                _header(headers, _CONTENT_TYPE),
                self._limit,
            ),
            response_status=status,
            response_body=stored_body(
                seen.response_body.data, seen.response_body.total, seen.content_type, limit
            ),
            duration_ms=round(duration_s * 1000, 3),
            ip_address=_client(scope),
            user_id=user_id_of(scope),
            created_at=datetime.now(UTC) - timedelta(seconds=duration_s),
        )


def _content_length(headers: Iterable[tuple[bytes, bytes]]) -> int:
    """The body's declared size: a handler that refused before reading (401) read none."""
    declared = _header(headers, b"content-length")
    return int(declared) if declared is not None and declared.isdigit() else 0


def socket_record(
    scope: Scope,
    *,
    service: str,
    trace_id: str,
    started_at: datetime,
    duration_s: float,
    user_id: str | None,
    frames_in: int,
    frames_out: int,
    close_code: int | None,
) -> AccessRecord:
    """The record of a WebSocket session at its close (method ``WS``, status 101): its
    redacted headers and path (a token in the query string too), who it was, how long it
    lasted, the frames each way and the code it was closed with."""
    return AccessRecord(
        key=new_key(),
        trace_id=trace_id,
        service=service,
        method="WS",
        route=str(scope.get("path_template") or ""),
        path=_concrete_path(scope),
        request_header=redact_headers(scope["headers"]),
        response_status=101,
        duration_ms=round(duration_s * 1000, 3),
        ip_address=_client(scope),
        user_id=user_id,
        created_at=started_at,
        frames_in=frames_in,
        frames_out=frames_out,
        close_code=close_code,
    )
