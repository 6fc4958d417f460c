"""Ingest's access: every route declares it (ingest refuses to start otherwise), and
producers over HTTP need a valid API key with the route's scope."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, get_args

import httpx
import pulse_ingest.http
import pytest
from litestar import post
from litestar.routes import HTTPRoute
from pulse_contracts.accounts import Scope
from pulse_runtime.web import access_of

from tests.support.stack import (
    PulseStack,
    bearer,
    create_api_key,
    create_class_key,
    eventually,
)

pytestmark = pytest.mark.integration


# --- every route of ingest needs an API key with its scope --------------------------------

INGEST_UNGUARDED = ("/healthz", "/readyz", "/metrics", "/asyncapi.json")


def ingest_unguarded(path: str) -> bool:
    """Probes, and the two documents (AsyncAPI, and OpenAPI under /schema): they describe the
    producers' contract (public, as docs/schemas/ is), not any data."""
    return path in INGEST_UNGUARDED or path.startswith("/schema")


def declared_ingest_routes() -> list[tuple[str, str, str]]:
    """(method, path, access) of every registered HTTP route of ingest's real app."""
    app = pulse_ingest.http.create_http_app(
        keys=None,  # type: ignore[arg-type]
        ingest=None,  # type: ignore[arg-type]
        readiness=None,  # type: ignore[arg-type]
        max_body_bytes=1024,
        asyncapi={},
    )
    table: list[tuple[str, str, str]] = []
    for route in app.routes:
        assert isinstance(route, HTTPRoute), route.path
        for handler in route.route_handlers:
            access = access_of(handler)
            assert access is not None, route.path
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                table.append((method, route.path, access))
    return table


def test_ingest_refuses_to_start_with_a_route_that_declares_no_access(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    @post("/api/v1/undeclared")
    async def undeclared() -> None: ...

    @post("/api/v1/other", opt={"access": "ingest:everything"})
    async def unknown_scope() -> None: ...

    for handler in (undeclared, unknown_scope):
        monkeypatch.setattr(pulse_ingest.http, "ROUTES", [*pulse_ingest.http.ROUTES, handler])
        with pytest.raises(RuntimeError, match="without a declared access level: /api/v1/"):
            declared_ingest_routes()
    monkeypatch.undo()
    scopes = set(get_args(Scope))
    for method, path, access in declared_ingest_routes():
        if ingest_unguarded(path):
            assert access == "public", path
        else:
            assert access in scopes, (method, path, access)


# --- producers over HTTP ----------------------------------------------------------------


async def walk_ingest_routes(stack: PulseStack) -> None:
    """Every route of ingest but health and readiness: no key is 401, a key with every
    scope but the route's is 403, a key with the route's scope gets past the check."""
    scopes: list[str] = list(get_args(Scope))
    keys: dict[tuple[str, ...], str] = {}

    async def key_for(wanted: list[str]) -> str:
        if tuple(wanted) not in keys:
            keys[tuple(wanted)] = (await create_api_key(stack, wanted))[1]
        return keys[tuple(wanted)]

    guarded = 0
    async with httpx.AsyncClient() as client:
        for method, path, access in declared_ingest_routes():
            url, where = stack["ingest"].url(path), f"{method} {path} ({access})"
            anonymous = await client.request(method, url)
            if ingest_unguarded(path):
                assert anonymous.status_code not in (401, 403), where
                continue
            guarded += 1
            assert access in scopes, where  # never public
            assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthorized")
            assert anonymous.headers["www-authenticate"] == "Bearer", where
            others = [scope for scope in scopes if scope != access]
            lacking = await client.request(method, url, headers=bearer(await key_for(others)))
            assert (lacking.status_code, lacking.json()["code"]) == (403, "forbidden"), where
            # A classroom route also needs the key to name a class (else 403 `no_class`).
            allowed_key = (
                await create_class_key(stack, "walk")
                if access == "ingest:events"
                else await key_for([access])
            )
            allowed = await client.request(method, url, headers=bearer(allowed_key))
            assert allowed.status_code not in (401, 403), where
    assert guarded >= 1


async def test_ingest_http_needs_a_valid_key_with_the_scope(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "ingest", "gateway"])
    await walk_ingest_routes(stack)
    key_id, secret = await create_api_key(stack, ["ingest:metrics"])
    _, events_only = await create_api_key(stack, ["ingest:events"])
    url = stack["ingest"].url("/api/v1/metrics")
    point = {"time": "2026-11-22T10:00:00Z", "source": "http", "name": "posted", "value": 3.5}
    async with httpx.AsyncClient() as client:
        missing = await client.post(url, json=point)
        wrong = await client.post(url, json=point, headers=bearer("pk_00000000_nope"))
        lacking = await client.post(url, json=point, headers=bearer(events_only))
        traceparent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        accepted = await client.post(
            url, json=[point, point], headers={**bearer(secret), "traceparent": traceparent}
        )
        invalid = await client.post(url, json={**point, "value": "high"}, headers=bearer(secret))
        lost = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        nowhere = await client.get(stack["ingest"].url("/nowhere"), headers={"traceparent": lost})
        too_big = await client.post(
            url, content=b"[" + b" " * (17 << 20) + b"]", headers=bearer(secret)
        )
        assert (missing.status_code, missing.json()["code"]) == (401, "unauthorized")
        assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_api_key")
        assert (lacking.status_code, lacking.json()["code"]) == (403, "forbidden")
        assert (accepted.status_code, accepted.json()) == (202, {"accepted": 2})
        assert accepted.headers["traceparent"] == traceparent
        assert (nowhere.status_code, nowhere.headers["traceparent"]) == (404, lost)
        assert invalid.status_code == 400
        assert invalid.json() == {
            "code": "invalid_metrics",
            "message": "invalid metric point: Expected `float`, got `str` - at `$.value`",
            "errors": [{"index": 0, "field": "value", "reason": "Expected `float`, got `str`"}],
        }
        assert too_big.status_code == 413

        revoked = await client.delete(
            stack["gateway"].url(f"/api/v1/admin/api-keys/{key_id}"),
            headers=bearer(await stack.token()),
        )
        assert revoked.json()["revoked_at"] is not None
        refused_at = time.monotonic()

        async def key_refused() -> bool:
            response = await client.post(url, json=point, headers=bearer(secret))
            return response.status_code == 401

        assert await eventually(key_refused, within_s=5, interval_s=0.25)
    # Within the 5 s promise: the cache holds an answer for 2 s.
    assert time.monotonic() - refused_at < 5
    # The POST's log line carries the trace id the producer sent (as the gateway's do).
    stack.stop()
    lines = [
        json.loads(line)
        for line in stack["ingest"].log_path.read_text().splitlines()
        if line.startswith("{")
    ]
    trace_id = traceparent.split("-")[1]
    assert [
        (line["event"], line["method"], line["path"], line["status"])
        for line in lines
        if line.get("trace_id") == trace_id
    ] == [("request", "POST", "/api/v1/metrics", 202)]
    assert [
        (line["event"], line["path"], line["status"])
        for line in lines
        if line.get("trace_id") == lost.split("-")[1]
    ] == [("request", "/nowhere", 404)]
    assert secret not in stack["ingest"].log_path.read_text()
