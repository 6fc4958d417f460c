"""Ingest's HTTP edge for producers that do not speak NATS: ``POST /api/v1/metrics``, and the
classroom's ``POST /api/v1/events`` and ``GET /api/v1/events/settings`` (:mod:`.classroom`).

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

from litestar import Litestar, Request, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import SecurityScheme
from litestar.types import ASGIApp
from pulse_contracts import IngestAck, subjects
from pulse_contracts.accounts import ApiKeyIdentity, VerifyApiKey
from pulse_contracts.accounts import Scope as KeyScope
from pulse_runtime.audit import RecordSink
from pulse_runtime.auth_client import AuthClient, AuthRefused, AuthUnavailable
from pulse_runtime.health import ReadinessCheck
from pulse_runtime.logging import get_logger
from pulse_runtime.settings import AccessLogSettings
from pulse_runtime.tracing import TRACEPARENT, traceparent_from
from pulse_runtime.web import (
    PROBE_PATHS,
    RequestLatency,
    RouteAccess,
    ServiceDocument,
    access_of,
    current_traceparent,
    served_edge,
    service_app,
)

from .classroom.class_settings import ClassSettingsCache
from .classroom.routes import API_KEY_STATE, EVENT_ROUTES, IngestEvents
from .documents import TITLE, VERSION, producer_upload
from .imports.importer import MetricsImport
from .imports.routes import IMPORT_ROUTES
from .refusals import Refused, refusals
from .storing import NotStored
from .validation import InvalidMetrics

log = get_logger(__name__)

IngestMetrics = Callable[[bytes, str | None, str], Awaitable[int]]


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

GUARD_REFUSALS = {
    "public": refusals(),
    **{scope: refusals(401, 403, 503) for scope in get_args(KeyScope)},
}
"""What :func:`require_access` answers, by a route's access level (documented on each)."""
API_KEY = SecurityScheme(
    type="http",
    scheme="bearer",
    description="An API key (`pk_…`) with the route's scope, made by an admin in the gateway",
)


async def require_access(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The app-wide guard: the route's declared access decides (an undeclared one needs a key
    with a scope no key has, so it is refused: the startup check makes that moot)."""
    access = access_of(handler)
    if access == "public":
        return
    keys: ApiKeyCache = connection.app.state["api_keys"]  # `.keys` is Mapping.keys
    # The route may need more of the key than its scope (the classroom routes: its class).
    identity = await require_key(connection, keys, access or "undeclared")
    connection.state[API_KEY_STATE] = identity
    connection.scope["user"] = identity  # who the access log says made the request


ROUTE_ACCESS = RouteAccess(
    guard=require_access,
    levels=ACCESS_LEVELS,
    refusals=GUARD_REFUSALS,
    scheme_name="apiKey",
    scheme=API_KEY,
)
DOCUMENT = ServiceDocument(
    title=f"{TITLE} (HTTP)",
    version=VERSION,
    description="Producers that do not speak NATS post metric points and notebook events here,"
    " and files of historical points (bulk imports). The NATS"
    " subjects are described by the AsyncAPI document at `GET /asyncapi.json`.",
    # Public, as GET /asyncapi.json is (see there); JSON only: no page loading scripts.
    access="public",
    render_plugins=[JsonRenderPlugin()],
)


@post(
    "/api/v1/metrics",
    status_code=202,
    summary="Store metric points",
    opt={"access": "ingest:metrics"},
    responses=refusals(400, 413, 503),
    operation_class=producer_upload(subjects.INGEST_METRICS, "One point or an array of points"),
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


def asyncapi_route(document: dict[str, Any]) -> Any:
    """``GET /asyncapi.json``: the AsyncAPI document of ingest's NATS subjects.

    Public, like the OpenAPI document: both describe the contract producers publish against
    (no data, no deployment detail: the NATS server is named, not located), and a producer's
    tools fetch them before anyone has made it an API key.
    """

    @get(
        "/asyncapi.json",
        opt={"access": "public"},
        include_in_schema=False,
        media_type="application/json",
        name="asyncapi",
    )
    async def asyncapi() -> dict[str, Any]:
        return document

    return asyncapi


ROUTES = [post_metrics, *EVENT_ROUTES, *IMPORT_ROUTES]


def create_http_app(
    *,
    keys: ApiKeyCache,
    ingest: IngestMetrics,
    readiness: ReadinessCheck,
    max_body_bytes: int,
    asyncapi: dict[str, Any],
    ingest_events: IngestEvents | None = None,
    class_settings: ClassSettingsCache | None = None,
    imports: MetricsImport | None = None,
    audit: RecordSink | None = None,
) -> Litestar:
    return service_app(
        routes=[*ROUTES, asyncapi_route(asyncapi)],
        dependencies={
            "ingest": ingest,
            "ingest_events": ingest_events,
            "class_settings": class_settings,
            "imports": imports,
        },
        readiness=readiness,
        access=ROUTE_ACCESS,
        document=DOCUMENT,
        max_body_bytes=max_body_bytes,
        state={"api_keys": keys},
        audit=audit,
    )


def describing_app() -> Litestar:
    """The real app for its route table and OpenAPI document only: no dependency is called."""
    from .documents import describing_asyncapi  # noqa: PLC0415 - it builds the whole service

    return create_http_app(
        keys=None,  # type: ignore[arg-type]
        ingest=None,  # type: ignore[arg-type]
        readiness=None,  # type: ignore[arg-type]
        max_body_bytes=1,
        asyncapi=describing_asyncapi(),
    )


def served(
    app: Litestar, access: AccessLogSettings, latency: RequestLatency | None = None
) -> ASGIApp:
    """The app as the server runs it: tracing and the access log wrap it whole, since a
    Litestar middleware never sees an answer no route gave (404, 405)."""
    return served_edge(
        app, app, service="ingest", quiet_paths=PROBE_PATHS, access=access, latency=latency
    )


__all__ = ["ApiKeyCache", "create_http_app", "served"]
