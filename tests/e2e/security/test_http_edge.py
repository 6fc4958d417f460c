"""The HTTP edge: security headers, body limits, CORS, and a large post accepted whole."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from tests.support.stack import PulseStack, bearer, create_api_key

pytestmark = pytest.mark.integration


async def test_security_headers_and_body_limit(stack: PulseStack) -> None:
    async with httpx.AsyncClient() as client:
        page = await client.get(stack["gateway"].url("/"))
        huge = await client.post(
            stack["gateway"].url("/api/v1/auth/login"), content=b"x" * (2 << 20)
        )
        # Answers no route gave pass through the same edge: headers and trace context.
        traceparent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
        missing = await client.get(
            stack["gateway"].url("/api/v1/nowhere"), headers={"traceparent": traceparent}
        )
        wrong_method = await client.delete(stack["gateway"].url("/api/v1/auth/login"))
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert missing.headers["traceparent"] == traceparent
    assert wrong_method.status_code == 405
    for answer in (missing, wrong_method):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "traceparent" in answer.headers
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    csp = [part.strip() for part in page.headers["content-security-policy"].split(";")]
    assert "frame-ancestors 'none'" in csp
    # the page's own origin only (its /ws included): never `ws:`/`wss:` to any host
    assert "connect-src 'self'" in csp
    assert huge.status_code == 413


async def test_cors_allows_only_the_configured_origins(make_stack: Any) -> None:
    stack: PulseStack = make_stack(PULSE_GATEWAY_CORS_ORIGINS="https://dash.example")
    stack.start(["auth", "gateway"])
    preflight = {"Access-Control-Request-Method": "POST"}
    async with httpx.AsyncClient() as client:
        url = stack["gateway"].url("/api/v1/auth/login")
        allowed = await client.options(url, headers={**preflight, "Origin": "https://dash.example"})
        other = await client.options(url, headers={**preflight, "Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://dash.example"
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "access-control-allow-origin" not in other.headers


async def test_a_large_post_of_one_series_is_accepted_whole(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "ingest", "gateway"])
    _, secret = await create_api_key(stack, ["ingest:metrics"])
    start = 1_700_000_000
    points = [
        {"time": f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(start + i))}Z",
         "source": "bulk", "name": "large_post", "value": float(i)}
        for i in range(60_000)
    ]  # fmt: skip
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            stack["ingest"].url("/api/v1/metrics"), json=points, headers=bearer(secret)
        )
    assert (response.status_code, response.json()) == (202, {"accepted": 60_000})
