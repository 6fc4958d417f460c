"""Ingest's HTTP edge for producers that do not speak NATS: ``POST /api/v1/metrics``.

Every producer authenticates with an API key (``Authorization: Bearer pk_…``) whose scopes
allow the route; keys are checked with auth and cached briefly, so a revoked key stops
working within ``PULSE_INGEST_API_KEY_CACHE_S`` (2 s by default).

Every route declares its access in ``opt={"access": ...}``: ``"public"`` or the API key scope
it needs. One guard enforces it, and the app refuses to start with a route that declares
nothing (a new route cannot end up public by forgetting the key check).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, get_args

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import HTTPException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp
from pulse_contracts import IngestAck
from pulse_contracts.accounts import ApiKeyIdentity, VerifyApiKey
from pulse_contracts.accounts import Scope as KeyScope
from pulse_runtime.auth_client import AuthClient, AuthRefused, AuthUnavailable
from pulse_runtime.health import ReadinessCheck, readiness_report
from pulse_runtime.logging import get_logger
from pulse_runtime.tracing import TRACEPARENT, traceparent_from
from pulse_runtime.web import access_of, current_traceparent, trace_requests, undeclared_routes

from .storing import NotStored
from .validation import InvalidMetrics, ItemError

log = get_logger(__name__)

IngestMetrics = Callable[[bytes, str | None, str], Awaitable[int]]


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    code: str
    message: str
    errors: list[ItemError] | None = None
    """For ``invalid_metrics``: each bad point's index, field and reason (up to 100)."""


class Refused(Exception):
    def __init__(
        self, status: int, code: str, message: str, errors: list[ItemError] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(code=code, message=message, errors=errors or None)


class ApiKeyCache:
    """Answers of ``rpc.auth.apikeys.verify`` for a short while (valid and invalid alike).

    Entries are keyed by the SHA-256 digest of the secret, never by the secret itself: the
    cache outlives the request, and a dump of its keys must not hand out working API keys.
    """

    def __init__(self, auth: AuthClient, ttl_s: float) -> None:
        self._auth = auth
        self._ttl_s = ttl_s
        self._entries: dict[bytes, tuple[float, ApiKeyIdentity | None]] = {}

    async def identify(self, secret: str) -> ApiKeyIdentity | None:
        now = time.monotonic()
        digest = hashlib.sha256(secret.encode()).digest()
        cached = self._entries.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            identity: ApiKeyIdentity | None = await self._auth.call(
                VerifyApiKey(secret=secret), ApiKeyIdentity
            )
        except AuthRefused:
            identity = None
        if len(self._entries) > 10_000:  # bounded: forget everything rather than grow
            self._entries.clear()
        self._entries[digest] = (now + self._ttl_s, identity)
        return identity


async def require_key(
    connection: ASGIConnection[Any, Any, Any, Any], keys: ApiKeyCache, scope: str
) -> ApiKeyIdentity:
    authorization = connection.headers.get("authorization", "")
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Refused(401, "unauthorized", "send Authorization: Bearer <API key>")
    try:
        identity = await keys.identify(secret.strip())
    except AuthUnavailable:
        raise Refused(503, "auth_unavailable", "API keys cannot be checked right now") from None
    if identity is None:
        raise Refused(401, "invalid_api_key", "unknown or revoked API key")
    if scope not in identity.scopes:
        raise Refused(403, "forbidden", f"this API key lacks the {scope!r} scope")
    return identity


ACCESS_LEVELS: frozenset[str] = frozenset({"public", *get_args(KeyScope)})
"""What a route may declare: public, or the API key scope it needs."""


async def require_access(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The app-wide guard: the route's declared access decides (an undeclared one needs a key
    with a scope no key has, so it is refused: the startup check makes that moot)."""
    access = access_of(handler)
    if access == "public":
        return
    keys: ApiKeyCache = connection.app.state["api_keys"]  # `.keys` is Mapping.keys
    await require_key(connection, keys, access or "undeclared")


@post(
    "/api/v1/metrics",
    status_code=202,
    summary="Store metric points",
    opt={"access": "ingest:metrics"},
)
async def post_metrics(
    request: Request[Any, Any, Any], ingest: NamedDependency[IngestMetrics]
) -> IngestAck:
    """One point or an array of points, JSON or msgpack (``Content-Type``). 202 once stored."""
    body = await request.body()
    traceparent = current_traceparent.get(None) or traceparent_from(
        {TRACEPARENT: request.headers.get(TRACEPARENT, "")}
    )
    try:
        accepted = await ingest(body, request.headers.get("content-type"), traceparent)
    except InvalidMetrics as refused:
        raise Refused(400, "invalid_metrics", str(refused), refused.errors) from None
    except NotStored as failed:
        cause = failed.__cause__
        log.error("points not stored", error=f"{type(cause).__name__}: {cause}")
        raise Refused(503, "not_stored", str(failed)) from None
    return IngestAck(accepted=accepted)


@get("/healthz", include_in_schema=False, opt={"access": "public"})
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False, opt={"access": "public"})
async def readyz(readiness: NamedDependency[ReadinessCheck]) -> Response[dict[str, object]]:
    status, body = readiness_report(await readiness())
    return Response(body, status_code=status)


_REFUSAL_HEADERS = {401: {"WWW-Authenticate": "Bearer"}, 503: {"Retry-After": "1"}}


def _refused(_: Request[Any, Any, Any], exc: Refused) -> Response[ErrorBody]:
    return Response(exc.body, status_code=exc.status, headers=_REFUSAL_HEADERS.get(exc.status))


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    codes = {413: "payload_too_large", 404: "not_found", 405: "method_not_allowed"}
    return Response(
        ErrorBody(code=codes.get(exc.status_code, "error"), message=exc.detail),
        status_code=exc.status_code,
    )


def _internal_error(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    log.error("unhandled error", exc_info=exc)
    return Response(
        ErrorBody(code="internal_error", message="something went wrong; it has been logged"),
        status_code=500,
    )


ROUTES = [post_metrics, healthz, readyz]


def create_http_app(
    *,
    keys: ApiKeyCache,
    ingest: IngestMetrics,
    readiness: ReadinessCheck,
    max_body_bytes: int,
) -> Litestar:
    def provide(value: object) -> Provide:
        return Provide(lambda: value, use_cache=True, sync_to_thread=False)

    app = Litestar(
        route_handlers=list(ROUTES),
        dependencies={
            "ingest": provide(ingest),
            "readiness": provide(readiness),
        },
        guards=[require_access],
        state=State({"api_keys": keys}),
        exception_handlers={
            Refused: _refused,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        request_max_body_size=max_body_bytes,
        logging_config=None,
        openapi_config=None,
    )
    if missing := undeclared_routes(app, ACCESS_LEVELS):
        raise RuntimeError(f"routes without a declared access level: {', '.join(missing)}")
    return app


def served(app: Litestar) -> ASGIApp:
    """The app as the server runs it: tracing wraps it whole, since a Litestar middleware never
    sees an answer no route gave (404, 405)."""
    return trace_requests("pulse_ingest.access", ("/healthz", "/readyz"))(app)


__all__ = ["ApiKeyCache", "create_http_app", "served"]
