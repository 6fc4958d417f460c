"""The gateway's Litestar app: each domain's routes and dependencies, collected in one place.

A domain (``accounts/``, ``metrics/``, ``live/``, ...) exports ``ROUTES``; a new one is one
more line in :func:`create_app` and touches no other domain.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.types import ASGIApp
from pulse_runtime.audit import RecordSink
from pulse_runtime.auth_client import AuthClient
from pulse_runtime.health import ReadinessCheck
from pulse_runtime.settings import AccessLogSettings
from pulse_runtime.web import (
    PROBE_PATHS,
    RequestLatency,
    ServiceDocument,
    served_edge,
    service_app,
)

from pulse_gateway import accounts, alerts, classroom, live, metrics, notifications
from pulse_gateway.alerts import AlertsClient
from pulse_gateway.audit import ROUTES as AUDIT_ROUTES  # `audit` is the record sink here
from pulse_gateway.audit import AuditClient
from pulse_gateway.classroom import ClassroomClient
from pulse_gateway.edge.dashboard import dashboard_routes
from pulse_gateway.edge.headers import security_headers
from pulse_gateway.identity.access import ROUTE_ACCESS
from pulse_gateway.identity.keyring import KeyRing
from pulse_gateway.live.fanout import ChannelHub
from pulse_gateway.live.registry import SocketRegistry
from pulse_gateway.metrics.history import HistoryClient
from pulse_gateway.notifications import NotifierClient

from .documents import describe_frames
from .settings import GatewaySettings

_QUIET_PATHS = (*PROBE_PATHS, "/metrics")  # probes and scrapes: no request line
DOCUMENT = ServiceDocument(title="Pulse gateway", version="1.0.0", access="user")


def create_app(
    *,
    settings: GatewaySettings,
    history: HistoryClient,
    hub: ChannelHub,
    sockets: SocketRegistry,
    keyring: KeyRing,
    auth: AuthClient,
    readiness: ReadinessCheck,
    classes: ClassroomClient,
    notifier: NotifierClient,
    rules: AlertsClient,
    trail: AuditClient,
    audit: RecordSink | None = None,
) -> Litestar:
    """Every domain's routes and the gateway's dependencies, on Pulse's shared app defaults
    (error handlers, probes, the access guard: :func:`pulse_runtime.web.service_app`)."""
    app = service_app(
        routes=[
            *metrics.ROUTES,
            *live.ROUTES,
            *accounts.ROUTES,
            *classroom.ROUTES,
            *notifications.ROUTES,
            *alerts.ROUTES,
            *AUDIT_ROUTES,
            dashboard_routes(settings.dashboard_dir),
        ],
        dependencies={
            "history": history,
            "hub": hub,
            "sockets": sockets,
            "keyring": keyring,
            "auth": auth,
            "settings": settings,
            "classroom": classes,
            "notifier": notifier,
            "alerts": rules,
            "audit": trail,
        },
        readiness=readiness,
        access=ROUTE_ACCESS,
        document=DOCUMENT,
        max_body_bytes=settings.max_body_bytes,
        state={"keyring": keyring},
        audit=audit,
        cors=CORSConfig(allow_origins=settings.cors_origins, allow_credentials=True)
        if settings.cors_origins
        else None,
    )
    describe_frames(app)  # the /ws frames, which Litestar does not describe
    return app


def served(
    app: Litestar, access: AccessLogSettings, latency: RequestLatency | None = None
) -> ASGIApp:
    """The app as the server runs it: tracing, the access log and security headers wrap it
    whole, since a Litestar middleware never sees an answer no route gave (404, 405)."""
    return served_edge(
        app,
        security_headers(app),
        service="gateway",
        quiet_paths=_QUIET_PATHS,
        access=access,
        latency=latency,
    )


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
        classes=None,  # type: ignore[arg-type]
        notifier=None,  # type: ignore[arg-type]
        rules=None,  # type: ignore[arg-type]
        trail=None,  # type: ignore[arg-type]
    )
