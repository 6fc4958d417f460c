"""The route guard: a route's declared access level alone decides who passes, with 401 for a
missing or refused token and 403 for a role the level does not let through; tokens are checked
with the key ring, locally. An app of one route per level shows the rules; the real app's
route table shows that every route is guarded by the level it declares."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from litestar import Litestar, Request, get
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient
from pulse_contracts.accounts import Revocation
from pulse_gateway.app import describing_app
from pulse_gateway.identity.access import ROUTE_ACCESS
from pulse_gateway.identity.keyring import KeyRing
from pulse_runtime.web import ServiceDocument, access_of, service_app

from services.gateway.tests.support import ScriptedAuth, Tokens

ROLES = ("student", "user", "instructor", "admin")
# Who passes each level, written out rather than read from ROLES_OF_LEVEL: this is the rule.
PASSES = {
    "public": {"anonymous", "student", "user", "instructor", "admin"},
    "account": {"student", "user", "instructor", "admin"},
    "user": {"user", "instructor", "admin"},
    "instructor": {"instructor", "admin"},
    "admin": {"admin"},
}
NEEDS = {
    "user": "this needs the user, instructor or admin role",
    "instructor": "this needs the instructor or admin role",
    "admin": "this needs the admin role",
}


async def whoami(request: Request[Any, Any, Any]) -> dict[str, str]:
    """What the guard left on the request: the token's claims, for routes that need one."""
    claims = request.scope.get("user")
    return {"sub": claims.sub, "role": claims.role} if claims is not None else {}


def levels_app(keyring: KeyRing) -> Litestar:
    """``GET /<level>`` for each level, on the same app defaults and guard as the gateway's."""

    async def ready() -> dict[str, bool]:
        return {}

    return service_app(
        routes=[get(f"/{level}", opt={"access": level}, name=level)(whoami) for level in PASSES],
        dependencies={},
        readiness=ready,
        access=ROUTE_ACCESS,
        document=ServiceDocument(title="levels", version="1", access="admin"),
        max_body_bytes=1 << 16,
        state={"keyring": keyring},
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("level", PASSES)
@pytest.mark.parametrize("who", ["anonymous", *ROLES])
async def test_each_level_lets_through_its_roles_only(
    keyring: KeyRing, tokens: Tokens, level: str, who: str
) -> None:
    headers = {} if who == "anonymous" else bearer(tokens.issue(who))
    async with AsyncTestClient(levels_app(keyring)) as client:
        response = await client.get(f"/{level}", headers=headers)
    if who in PASSES[level]:
        assert response.status_code == 200, response.text
        expected = {} if level == "public" else {"sub": who, "role": who}
        assert response.json() == expected
    elif who == "anonymous":
        assert response.status_code == 401
        assert response.json() == {
            "code": "unauthorized",
            "message": "authentication required: send Authorization: Bearer <access token>",
        }
        assert response.headers["www-authenticate"] == "Bearer"
    else:
        assert response.status_code == 403
        assert response.json() == {"code": "forbidden", "message": NEEDS[level]}


async def test_a_token_the_key_ring_refuses_is_401_naming_why(
    keyring: KeyRing, auth: ScriptedAuth, tokens: Tokens
) -> None:
    revoked_claims = tokens.claims("admin")
    auth.revocations.append(Revocation(until=revoked_claims.exp, jti=revoked_claims.jti))
    older = tokens.issue("admin", user="ada", version=1)
    auth.revocations.append(Revocation(until=revoked_claims.exp, user_id="ada", min_version=2))
    await keyring.sync()  # as a revocation published on auth.revocations would arrive
    refused = {
        "malformed": "not-a-token",
        "expired": tokens.issue("admin", expired_s_ago=60),
        "unknown_kid": tokens.forged("admin"),
        "revoked": tokens.sign(revoked_claims),
    }
    async with AsyncTestClient(levels_app(keyring)) as client:
        for code, token in refused.items():
            response = await client.get("/user", headers=bearer(token))
            assert response.status_code == 401, code
            assert response.json()["message"] == f"invalid access token ({code})"
            assert response.headers["www-authenticate"] == (
                f'Bearer error="invalid_token", error_description="{code}"'
            )
        # a user's tokens from before their version was raised (disabled, new role, reset)
        response = await client.get("/user", headers=bearer(older))
        assert response.json()["message"] == "invalid access token (revoked)"
        fresh = await client.get(
            "/user", headers=bearer(tokens.issue("admin", user="ada", version=2))
        )
        assert fresh.status_code == 200


@pytest.mark.parametrize("authorization", ["", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "])
async def test_an_authorization_without_a_bearer_token_is_no_token(
    keyring: KeyRing, authorization: str
) -> None:
    async with AsyncTestClient(levels_app(keyring)) as client:
        response = await client.get("/account", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_public_route_never_looks_at_the_token(keyring: KeyRing) -> None:
    async with AsyncTestClient(levels_app(keyring)) as client:
        response = await client.get("/public", headers=bearer("not-a-token"))
    assert response.status_code == 200


# -- the gateway's own routes ----------------------------------------------------------------

_PARAMETER = re.compile(r"\{(\w+):(\w+)\}")
_SAMPLES = {"uuid": str(uuid.UUID(int=1)), "str": "py101", "path": "index.html", "int": "1"}


def guarded_routes() -> list[tuple[str, str, str]]:
    """(method, path with its parameters filled in, access) of every HTTP route of the real
    gateway that is not public; Litestar's own OPTIONS and HEAD left out."""
    routes: list[tuple[str, str, str]] = []
    for route in describing_app().routes:
        if not isinstance(route, HTTPRoute):
            continue  # /ws and /ws/metrics authenticate in-band (tests/live/test_session.py)
        path = _PARAMETER.sub(lambda match: _SAMPLES[match.group(2)], route.path)
        for handler in route.route_handlers:
            access = str(access_of(handler))
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                if access != "public":
                    routes.append((method, path, access))
    return routes


async def test_every_gateway_route_is_guarded_by_the_level_it_declares(
    keyring: KeyRing, tokens: Tokens
) -> None:
    """Only refusals are asked for: the guard answers them before any handler or dependency
    (none is provided here) could run."""
    app = describing_app()
    app.state.keyring = keyring
    routes = guarded_routes()
    assert {access for _, _, access in routes} == {"account", "user", "instructor", "admin"}
    refused_roles = {
        access: [role for role in ROLES if role not in PASSES[access]] for _, _, access in routes
    }
    role_tokens = {role: tokens.issue(role) for role in ROLES}
    async with AsyncTestClient(app) as client:
        for method, path, access in routes:
            where = f"{method} {path} ({access})"
            anonymous = await client.request(method, path)
            assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthorized"), where
            for role in refused_roles[access]:
                refused = await client.request(method, path, headers=bearer(role_tokens[role]))
                assert (refused.status_code, refused.json()["code"]) == (403, "forbidden"), (
                    where,
                    role,
                )
