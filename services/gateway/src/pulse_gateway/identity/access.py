"""Who may call a route: every route declares its access level, and one guard enforces it."""

from __future__ import annotations

from typing import Any, Literal

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import SecurityScheme
from pulse_runtime.web import RouteAccess, access_of

from pulse_gateway.edge.refusals import refusals

from .keyring import KeyRing, Unauthenticated, bearer_token

Access = Literal["public", "account", "user", "instructor", "admin"]
ACCESS_LEVELS: frozenset[str] = frozenset({"public", "account", "user", "instructor", "admin"})
ROLES_OF_LEVEL: dict[str, frozenset[str]] = {
    # Any signed-in account, whatever its role: its session, and the classroom routes, whose
    # handlers then decide which class and which student (classroom/visibility.py).
    "account": frozenset({"admin", "user", "instructor", "student"}),
    # The platform's data (metrics): every role but student, who sees only their own
    # classroom timeline (ADR 0023, decision 7).
    "user": frozenset({"admin", "user", "instructor"}),
    "instructor": frozenset({"admin", "instructor"}),
    "admin": frozenset({"admin"}),
}
"""The roles each access level lets through (``public`` needs no token)."""
GUARD_REFUSALS = {
    "public": refusals(),
    "account": refusals(401),
    "user": refusals(401, 403),
    "instructor": refusals(401, 403),
    "admin": refusals(401, 403),
}
"""What :func:`require_access` answers, by a route's access level (documented on each)."""
_NEEDS = {
    "user": "this needs the user, instructor or admin role",
    "instructor": "this needs the instructor or admin role",
    "admin": "this needs the admin role",
}
BEARER = SecurityScheme(
    type="http",
    scheme="bearer",
    bearer_format="JWT",
    description="An access token from `POST /api/v1/auth/login` (or refresh)",
)


async def require_access(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The app-wide guard: the route's declared ``access`` decides, and nothing else."""
    access = access_of(handler)
    if access == "public" or connection.scope["type"] == ScopeType.WEBSOCKET:
        return  # WebSocket handlers authenticate in-band (the first message or the handshake)
    keyring: KeyRing = connection.app.state.keyring
    token = bearer_token(connection.headers.get("authorization"))
    if token is None:
        raise NotAuthorizedException(
            "authentication required: send Authorization: Bearer <access token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        claims = await keyring.verify(token)
    except Unauthenticated as exc:
        raise NotAuthorizedException(
            f"invalid access token ({exc.code})",
            headers={
                "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{exc.code}"'
            },
        ) from None
    connection.scope["user"] = claims
    if claims.role not in ROLES_OF_LEVEL.get(str(access), frozenset()):
        raise PermissionDeniedException(_NEEDS.get(str(access), "this route is not open"))


ROUTE_ACCESS = RouteAccess(
    guard=require_access,
    levels=ACCESS_LEVELS,
    refusals=GUARD_REFUSALS,
    scheme_name="bearer",
    scheme=BEARER,
)
"""The gateway's access rules, as :func:`pulse_runtime.web.service_app` applies them."""
