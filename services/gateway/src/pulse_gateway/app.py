"""The gateway's Litestar app: each domain's routes and dependencies, collected in one place.

A domain (``accounts/``, ``metrics/``, ``live/``, ...) exports ``ROUTES``; a new one is one
more line in :func:`create_app` and touches no other domain.
"""

from __future__ import annotations

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp
from pulse_runtime.auth_client import AuthClient
from pulse_runtime.health import ReadinessCheck
from pulse_runtime.web import (
    UntrustedBodyRequest,
    document_access,
    trace_requests,
    undeclared_routes,
)

from pulse_gateway import accounts, edge, live, metrics
from pulse_gateway.edge.dashboard import dashboard_routes
from pulse_gateway.edge.errors import (
    ApiError,
    api_error_handler,
    http_error_handler,
    internal_error_handler,
    refusals,
    validation_error_handler,
)
from pulse_gateway.edge.headers import security_headers
from pulse_gateway.identity.access import ACCESS_LEVELS, require_access
from pulse_gateway.identity.keyring import KeyRing
from pulse_gateway.live.fanout import ChannelHub
from pulse_gateway.live.registry import SocketRegistry
from pulse_gateway.metrics.history import HistoryClient

from .documents import describe_frames
from .settings import GatewaySettings

_QUIET_PATHS = ("/healthz", "/readyz", "/metrics")  # probes and scrapes: no request line
GUARD_REFUSALS = {"public": refusals(), "user": refusals(401), "admin": refusals(401, 403)}
"""What :func:`require_access` answers, by a route's access level (documented on each)."""
BEARER = SecurityScheme(
    type="http",
    scheme="bearer",
    bearer_format="JWT",
    description="An access token from `POST /api/v1/auth/login` (or refresh)",
)


def create_app(
    *,
    settings: GatewaySettings,
    history: HistoryClient,
    hub: ChannelHub,
    sockets: SocketRegistry,
    keyring: KeyRing,
    auth: AuthClient,
    readiness: ReadinessCheck,
) -> Litestar:
    """Every route, dependency, guard and error handler, registered in one place."""

    def provide(value: object) -> Provide:
        return Provide(lambda: value, use_cache=True, sync_to_thread=False)

    app = Litestar(
        route_handlers=[
            *metrics.ROUTES,
            *live.ROUTES,
            *accounts.ROUTES,
            *edge.ROUTES,
            dashboard_routes(settings.dashboard_dir),
        ],
        dependencies={
            "history": provide(history),
            "hub": provide(hub),
            "sockets": provide(sockets),
            "keyring": provide(keyring),
            "auth": provide(auth),
            "settings": provide(settings),
            "readiness": provide(readiness),
        },
        guards=[require_access],
        # A body msgspec cannot take apart (too deep, not UTF-8) is a 400, not a 500.
        request_class=UntrustedBodyRequest,
        state=State({"keyring": keyring}),
        exception_handlers={
            ApiError: api_error_handler,
            ValidationException: validation_error_handler,
            HTTPException: http_error_handler,
            Exception: internal_error_handler,
        },
        cors_config=CORSConfig(allow_origins=settings.cors_origins, allow_credentials=True)
        if settings.cors_origins
        else None,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Pulse gateway",
            version="1.0.0",
            path="/schema",
            openapi_router=Router(
                path="/schema",
                route_handlers=[],
                opt={"access": "user"},
                include_in_schema=False,  # the document does not describe itself
            ),
            components=Components(security_schemes={"bearer": BEARER}),
        ),
        logging_config=None,
    )
    if missing := undeclared_routes(app, ACCESS_LEVELS):
        raise RuntimeError(f"routes without a declared access level: {', '.join(missing)}")
    document_access(app, GUARD_REFUSALS, [{"bearer": []}])
    describe_frames(app)  # the /ws frames, which Litestar does not describe
    return app


def served(app: Litestar) -> ASGIApp:
    """The app as the server runs it: tracing and security headers wrap it whole, since a
    Litestar middleware never sees an answer no route gave (404, 405)."""
    return trace_requests("pulse_gateway.access", _QUIET_PATHS)(security_headers(app))


def describing_app() -> Litestar:
    """The real app for its route table and OpenAPI document only: no dependency is called."""
    return create_app(
        settings=GatewaySettings(),
        history=None,  # type: ignore[arg-type]
        hub=None,  # type: ignore[arg-type]
        sockets=None,  # type: ignore[arg-type]
        keyring=None,  # type: ignore[arg-type]
        auth=None,  # type: ignore[arg-type]
        readiness=None,  # type: ignore[arg-type]
    )
