"""The Litestar app of a Pulse HTTP service, with what every such app shares.

:func:`service_app` is what the gateway's and ingest's app factories call: their routes,
dependencies and access rules, plus the shared defaults: the JSON error body and its handlers
(:mod:`.errors`), ``/healthz`` and ``/readyz`` (:mod:`.health`), the request class for
untrusted bodies (:mod:`.requests`), structlog's logging rather than Litestar's, and the OpenAPI
document at ``/schema`` with each route's access written into it (:mod:`.access`). An app with a
route that declares no access level refuses to be built.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler, Guard

from pulse_runtime.audit import RecordSink
from pulse_runtime.health import ReadinessCheck

from .access import document_access, undeclared_routes
from .errors import ERROR_HANDLERS
from .health import HEALTH_ROUTES
from .requests import UntrustedBodyRequest

SCHEMA_PATH = "/schema"
AUDIT_STATE = "audit"
"""``app.state.audit``: the process's audit :class:`~pulse_runtime.audit.RecordSink` (the
recorder), None when the app records nothing (a test, a document build)."""


@dataclass(frozen=True, kw_only=True)
class RouteAccess:
    """How a service guards its routes: the app-wide ``guard`` enforcing each route's declared
    level (one of ``levels``), what the guard answers at each level (``refusals``, into the
    document), and the credentials every route that is not public takes (``scheme``, named
    ``scheme_name`` in the document)."""

    guard: Guard
    levels: Collection[str]
    refusals: Mapping[str, Mapping[int, ResponseSpec]]
    scheme_name: str
    scheme: SecurityScheme


@dataclass(frozen=True, kw_only=True)
class ServiceDocument:
    """The service's OpenAPI document: its title and version, and who may read it (an access
    level, as a route declares one)."""

    title: str
    version: str
    access: str
    description: str | None = None
    render_plugins: Sequence[OpenAPIRenderPlugin] = ()
    """How ``/schema`` shows the document (Litestar's default pages when empty)."""


def _provided(value: object) -> Provide:
    return Provide(lambda: value, use_cache=True, sync_to_thread=False)


def service_app(
    *,
    routes: Sequence[ControllerRouterHandler],
    dependencies: Mapping[str, object],
    readiness: ReadinessCheck,
    access: RouteAccess,
    document: ServiceDocument,
    max_body_bytes: int,
    state: Mapping[str, object] | None = None,
    cors: CORSConfig | None = None,
    audit: RecordSink | None = None,
) -> Litestar:
    """The app of ``routes`` with the probes, each of ``dependencies`` provided as it is (by
    name, to every route), ``state`` on ``app.state``, and the shared defaults. ``audit`` is
    where the app's audit records go (the process's recorder), kept as ``app.state.audit``."""
    app = Litestar(
        route_handlers=[*HEALTH_ROUTES, *routes],
        dependencies={
            name: _provided(value)
            for name, value in {**dependencies, "readiness": readiness}.items()
        },
        guards=[access.guard],
        # A body msgspec cannot take apart (too deep, not UTF-8) is a 400, not a 500.
        request_class=UntrustedBodyRequest,
        state=State({**(state or {}), AUDIT_STATE: audit}),
        exception_handlers=ERROR_HANDLERS,
        cors_config=cors,
        request_max_body_size=max_body_bytes,
        openapi_config=OpenAPIConfig(
            title=document.title,
            version=document.version,
            description=document.description,
            path=SCHEMA_PATH,
            render_plugins=document.render_plugins,
            openapi_router=Router(
                path=SCHEMA_PATH,
                route_handlers=[],
                opt={"access": document.access},
                include_in_schema=False,  # the document does not describe itself
            ),
            components=Components(security_schemes={access.scheme_name: access.scheme}),
        ),
        logging_config=None,  # structlog's, configured once by the service
    )
    if missing := undeclared_routes(app, access.levels):
        raise RuntimeError(f"routes without a declared access level: {', '.join(missing)}")
    document_access(app, access.refusals, [{access.scheme_name: []}])
    return app
