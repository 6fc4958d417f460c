"""Routes that declare who may use them.

Each route says ``opt={"access": <level>}``; the service's guard enforces its levels, and
:func:`undeclared_routes` lets the app refuse to start with a route that says nothing (which a
guard would otherwise have to guess about). :func:`document_access` writes the same into the
OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from litestar import Litestar
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import SecurityRequirement
from litestar.routes import HTTPRoute


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
