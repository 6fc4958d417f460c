"""The access log middleware on a real Litestar app (``service_app`` with its defaults): one
record per request, what it keeps, what it never keeps, and that it changes nothing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import msgspec
import pytest
from litestar import Request, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import SecurityScheme
from litestar.params import FromPath, JSONBody
from prometheus_client import CollectorRegistry
from pulse_contracts.audit import AccessRecord
from pulse_runtime.access_tokens import AccessClaims
from pulse_runtime.audit import RecordList
from pulse_runtime.settings import AccessLogSettings
from pulse_runtime.web import (
    Refusals,
    RequestLatency,
    RouteAccess,
    ServiceDocument,
    access_of,
    served_edge,
    service_app,
)
from pulse_runtime.web.bodies import PREVIEW_CHARS

SECRET_TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl"
PASSWORD = "canary-password-8d1f"


async def require_token(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    if access_of(handler) == "public":
        return
    if connection.headers.get("authorization") != f"Bearer {SECRET_TOKEN}":
        raise NotAuthorizedException("send a token")
    now = int(time.time())
    connection.scope["user"] = AccessClaims(
        sub="u-1", email="a@b.c", role="admin", iat=now, exp=now + 60, jti="j"
    )


class Login(msgspec.Struct):
    email: str
    password: str


@post("/login", opt={"access": "public"})
async def login(data: JSONBody[Login]) -> dict[str, str]:
    if data.password != PASSWORD:
        return {"error": "wrong"}
    return {"access_token": SECRET_TOKEN, "refresh_token": "rt_abcdefghijklmnop"}


@get("/users/{user_id:str}", opt={"access": "member"})
async def user(user_id: FromPath[str]) -> dict[str, str]:
    return {"id": user_id}


@post("/echo", opt={"access": "public"})
async def echo(request: Request[Any, Any, Any]) -> bytes:
    return await request.body()


@get("/big", opt={"access": "public"})
async def big() -> list[int]:
    return list(range(10_000))


@get("/broken", opt={"access": "public"})
async def broken() -> None:
    raise RuntimeError(f"failed with password={PASSWORD}")


def make_app(records: RecordList | None) -> Any:
    return service_app(
        routes=[login, user, echo, big, broken],
        dependencies={},
        readiness=lambda: None,  # type: ignore[arg-type,return-value]
        access=RouteAccess(
            guard=require_token,
            levels={"public", "member"},
            refusals={"public": Refusals({})(), "member": Refusals({})()},
            scheme_name="token",
            scheme=SecurityScheme(type="http", scheme="bearer"),
        ),
        document=ServiceDocument(title="t", version="1", access="public"),
        max_body_bytes=1 << 20,
        audit=records,
    )


@pytest.fixture
async def records() -> RecordList:
    return RecordList()


@pytest.fixture
async def client(records: RecordList) -> AsyncIterator[httpx.AsyncClient]:
    served = served_edge(
        app := make_app(records),
        app,
        service="test",
        quiet_paths=("/healthz",),
        access=AccessLogSettings(access_log_body_bytes=2048, access_log_error_body_bytes=8192),
    )
    transport = httpx.ASGITransport(app=cast(Any, served), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def only(records: RecordList) -> AccessRecord:
    assert len(records) == 1, records
    record = records.pop()
    assert isinstance(record, AccessRecord)
    return record


async def test_a_request_is_recorded_with_its_route_user_trace_and_answer(
    client: httpx.AsyncClient, records: RecordList
) -> None:
    response = await client.get(
        "/users/u-9?fields=all&token=abc",
        headers={
            "Authorization": f"Bearer {SECRET_TOKEN}",
            "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
        },
    )
    assert response.status_code == 200
    record = only(records)
    assert record.trace_id == "a" * 32
    assert record.service == "test"
    assert (record.method, record.route) == ("GET", "/users/{user_id}")
    assert record.path == "/users/u-9?fields=all&token=%5BREDACTED%5D"
    assert record.request_header["authorization"] == "Bearer [REDACTED]"
    assert record.request_body is None
    assert (record.response_status, record.response_body) == (200, {"id": "u-9"})
    assert record.user_id == "u-1"
    assert record.ip_address == "127.0.0.1"
    assert record.duration_ms > 0


async def test_a_login_keeps_neither_the_password_nor_the_tokens(
    client: httpx.AsyncClient, records: RecordList
) -> None:
    response = await client.post("/login", json={"email": "a@b.c", "password": PASSWORD})
    assert response.json()["access_token"] == SECRET_TOKEN  # the client got them
    record = only(records)
    assert record.request_body == {"email": "a@b.c", "password": "[REDACTED]"}
    assert record.response_body == {"access_token": "[REDACTED]", "refresh_token": "[REDACTED]"}
    assert PASSWORD not in repr(record)
    assert SECRET_TOKEN not in repr(record)


async def test_refusals_and_unrouted_requests_are_recorded_with_their_error_bodies(
    client: httpx.AsyncClient, records: RecordList
) -> None:
    await client.get("/users/u-9", headers={"Authorization": "Bearer wrong-token-value"})
    await client.get("/nowhere")
    await client.post("/login", content=b'{"password": "' + PASSWORD.encode() + b'", ')
    unauthorized, missing, malformed = records
    assert isinstance(unauthorized, AccessRecord)
    assert unauthorized.response_status == 401
    assert unauthorized.response_body["code"] == "unauthorized"
    assert unauthorized.user_id is None
    assert unauthorized.request_header["authorization"] == "Bearer [REDACTED]"
    assert isinstance(missing, AccessRecord)
    assert (missing.response_status, missing.route) == (404, "")
    assert isinstance(malformed, AccessRecord)
    assert malformed.response_status == 400
    assert malformed.request_body == {"$text": '{"password": [REDACTED], '}
    assert PASSWORD not in repr(list(records))


async def test_a_handler_that_raises_is_recorded_as_its_500(
    client: httpx.AsyncClient, records: RecordList
) -> None:
    response = await client.get("/broken")
    assert response.status_code == 500
    record = only(records)
    assert record.response_status == 500
    assert record.response_body["code"] == "internal_error"
    assert PASSWORD not in repr(record)


async def test_bodies_are_bounded_and_the_handler_gets_every_byte(
    client: httpx.AsyncClient, records: RecordList
) -> None:
    payload = bytes(range(256)) * 40  # 10 KiB of binary
    echoed = await client.post("/echo", content=payload, headers={"content-type": "image/png"})
    assert echoed.content == payload  # nothing taken away or changed
    record = only(records)
    assert record.request_body == {"$binary": {"bytes": len(payload), "content_type": "image/png"}}
    assert record.response_body["$binary"]["bytes"] == len(payload)

    await client.get("/big")
    record = only(records)
    assert record.response_body["$truncated"]["bytes"] > 2048
    assert len(record.response_body["$truncated"]["preview"]) <= PREVIEW_CHARS


async def test_probes_are_not_recorded(client: httpx.AsyncClient, records: RecordList) -> None:
    await client.get("/healthz")
    assert records == []


async def test_off_when_turned_off_or_when_the_app_has_no_sink() -> None:
    records = RecordList()
    inner = make_app(records)
    off = AccessLogSettings(access_log=False)
    for served in (
        served_edge(inner, inner, service="t", quiet_paths=(), access=off),
        served_edge(
            app := make_app(None), app, service="t", quiet_paths=(), access=AccessLogSettings()
        ),
    ):
        transport = httpx.ASGITransport(app=cast(Any, served))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            assert (await http.get("/big")).status_code == 200
    assert records == []


async def test_a_trusted_proxy_names_the_client_and_an_untrusted_peer_cannot() -> None:
    records = RecordList()
    for proxies in (["127.0.0.0/8"], []):
        app = make_app(records)
        served = served_edge(
            app, app, service="t", quiet_paths=(), access=AccessLogSettings(trusted_proxies=proxies)
        )
        transport = httpx.ASGITransport(app=cast(Any, served))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            await http.get("/big", headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.7"})
    trusted, untrusted = records
    assert isinstance(trusted, AccessRecord)
    assert isinstance(untrusted, AccessRecord)
    assert trusted.ip_address == "198.51.100.7"
    assert untrusted.ip_address == "127.0.0.1"


async def test_the_latency_histogram_has_the_route_template_and_status_class() -> None:
    registry = CollectorRegistry()
    app = make_app(None)
    served = served_edge(
        app,
        app,
        service="svc",
        quiet_paths=("/healthz",),
        access=AccessLogSettings(),
        latency=RequestLatency(registry, "svc"),
    )
    transport = httpx.ASGITransport(app=cast(Any, served))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        await http.get("/users/a", headers={"Authorization": f"Bearer {SECRET_TOKEN}"})
        await http.get("/users/b", headers={"Authorization": f"Bearer {SECRET_TOKEN}"})
        await http.get("/nowhere")
        await http.get("/healthz")

    def count(**labels: str) -> float | None:
        return registry.get_sample_value("pulse_http_request_duration_seconds_count", labels)

    assert count(service="svc", method="GET", route="/users/{user_id}", status="2xx") == 2
    assert count(service="svc", method="GET", route="unmatched", status="4xx") == 1
    assert count(service="svc", method="GET", route="/healthz", status="2xx") is None
