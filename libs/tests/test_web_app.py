"""The app every Pulse HTTP service builds (:func:`pulse_runtime.web.service_app`): probes,
dependencies, the access guard and its refusals, the error body, the OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import pytest
from litestar import Litestar, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import SecurityScheme
from litestar.params import JSONBody
from litestar.testing import TestClient
from pulse_runtime.web import (
    ApiError,
    Refusals,
    RouteAccess,
    ServiceDocument,
    UntrustedBodyRequest,
    access_of,
    service_app,
)

refusals = Refusals({401: "No key (`unauthorized`)", 409: "Taken (`taken`)"})


async def require_token(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    if access_of(handler) != "public" and connection.headers.get("authorization") != "Bearer t":
        raise NotAuthorizedException("send a token", headers={"WWW-Authenticate": "Bearer"})


ACCESS = RouteAccess(
    guard=require_token,
    levels={"public", "member"},
    refusals={"public": refusals(), "member": refusals(401)},
    scheme_name="token",
    scheme=SecurityScheme(type="http", scheme="bearer"),
)
DOCUMENT = ServiceDocument(
    title="Test service", version="2.0.0", access="public", render_plugins=[JsonRenderPlugin()]
)


class Note(msgspec.Struct):
    text: str


@get("/greeting", opt={"access": "public"})
async def greeting(greeter: NamedDependency[str]) -> str:
    return f"hello from {greeter}"


@post("/notes", opt={"access": "member"}, responses=refusals(409))
async def add_note(data: JSONBody[Note]) -> None:
    if data.text == "taken":
        raise ApiError(409, "taken", "that one exists")


def app(
    checks: Mapping[str, bool] | None = None, routes: list[Any] | None = None, **changes: Any
) -> Litestar:
    async def readiness() -> Mapping[str, bool]:
        return checks or {"nats": True}

    return service_app(
        **{
            "routes": [greeting, add_note] if routes is None else routes,
            "dependencies": {"greeter": "the test"},
            "readiness": readiness,
            "access": ACCESS,
            "document": DOCUMENT,
            "max_body_bytes": 64,
            **changes,
        }
    )


def test_every_app_answers_the_probes() -> None:
    with TestClient(app()) as client:
        assert (client.get("/healthz").status_code, client.get("/healthz").json()) == (
            200,
            {"status": "ok"},
        )
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()) == (
            200,
            {"status": "ready", "checks": {"nats": True}},
        )
    with TestClient(app(checks={"nats": True, "auth_keys": False})) as client:
        ready = client.get("/readyz")
        assert (ready.status_code, ready.json()) == (
            503,
            {"status": "not_ready", "checks": {"nats": True, "auth_keys": False}},
        )


def test_dependencies_are_provided_by_name_and_the_guard_applies() -> None:
    with TestClient(app()) as client:
        assert client.get("/greeting").text == "hello from the test"
        refused = client.post("/notes", json={"text": "x"})
        assert (refused.status_code, refused.json()) == (
            401,
            {"code": "unauthorized", "message": "send a token"},
        )
        assert refused.headers["www-authenticate"] == "Bearer"
        headers = {"Authorization": "Bearer t"}
        assert client.post("/notes", json={"text": "x"}, headers=headers).status_code == 201
        taken = client.post("/notes", json={"text": "taken"}, headers=headers)
        assert (taken.status_code, taken.json()) == (
            409,
            {"code": "taken", "message": "that one exists"},
        )


def test_the_shared_defaults_apply() -> None:
    built = app()
    assert built.request_class is UntrustedBodyRequest
    assert built.logging_config is None  # structlog's, not Litestar's
    with TestClient(built) as client:
        too_big = client.post(
            "/notes", json={"text": "x" * 100}, headers={"Authorization": "Bearer t"}
        )
        assert (too_big.status_code, too_big.json()["code"]) == (413, "payload_too_large")
        not_utf8 = client.post(
            "/notes",
            content=b'{"text": "\xff"}',
            headers={"Authorization": "Bearer t", "Content-Type": "application/json"},
        )
        assert (not_utf8.status_code, not_utf8.json()) == (
            400,
            {
                "code": "bad_request",
                "message": "malformed body: invalid UTF-8 in a string (invalid start byte)",
            },
        )


def test_an_app_with_a_route_of_no_declared_access_is_refused() -> None:
    @get("/forgotten")
    async def forgotten() -> None: ...

    @get("/unknown", opt={"access": "owner"})
    async def unknown() -> None: ...

    for route in (forgotten, unknown):
        with pytest.raises(RuntimeError, match="without a declared access level: /"):
            app(routes=[greeting, route])


def test_the_document_says_who_may_call_what_and_its_refusals() -> None:
    built = app(state={"x": 1})
    assert built.state["x"] == 1
    with TestClient(built) as client:
        response = client.get("/schema/openapi.json")  # public, as DOCUMENT says
    assert response.status_code == 200
    document = response.json()
    assert document["info"] == {"title": "Test service", "version": "2.0.0"}
    assert document["components"]["securitySchemes"] == {
        "token": {"type": "http", "scheme": "bearer"}
    }
    notes = document["paths"]["/notes"]["post"]
    assert notes["security"] == [{"token": []}]
    assert sorted(notes["responses"]) == ["201", "400", "401", "409"]
    assert notes["responses"]["409"]["description"] == "Taken (`taken`)"
    error_body = notes["responses"]["401"]["content"]["application/json"]["schema"]
    assert error_body == {"$ref": "#/components/schemas/ErrorBody"}
    greeting_doc = document["paths"]["/greeting"]["get"]
    assert "security" not in greeting_doc
    assert "/healthz" not in document["paths"]  # probes are not part of the API
