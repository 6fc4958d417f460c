"""The access log on the real gateway and ingest: each request (and each ``/ws`` session, at its
close) is found in ``audit_access`` with what it was, who made it and what it was answered;
and no password, token, API key or cookie sent or answered, in requests that succeed, fail or
break, ends up in any audit table or in the services' log output."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable
from typing import Any

import asyncpg
import httpx
import pytest
import websockets

from tests.support.stack import PulseStack, bearer, create_api_key, eventually

pytestmark = pytest.mark.integration

TIMEOUT_S = 60.0
AUDIT_TABLES = ("audit_access", "audit_task_steps", "audit_dead_letters")
FAST_AUDIT = {"PULSE_AUDIT_FLUSH_INTERVAL_S": "0.1"}
POINT = {"time": "2026-11-22T10:00:00Z", "source": "http", "name": "posted", "value": 3.5}


def traceparent() -> tuple[str, str]:
    """A new ``traceparent`` and its trace id."""
    trace_id = uuid.uuid4().hex
    return f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01", trace_id


async def access_rows(database_url: str, where: str = "true", *args: Any) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(f"SELECT * FROM audit_access WHERE {where} ORDER BY id", *args)
    finally:
        await conn.close()
    decoded = []
    for row in rows:
        record = dict(row)
        for column in ("request_header", "request_body", "response_body"):
            if record[column] is not None:
                record[column] = json.loads(record[column])
        decoded.append(record)
    return decoded


async def stored_by_trace(database_url: str, trace_ids: Iterable[str]) -> dict[str, Any]:
    wanted = list(trace_ids)

    async def found() -> dict[str, Any]:
        rows = await access_rows(database_url, "trace_id = any($1::text[])", wanted)
        by_trace = {row["trace_id"]: row for row in rows}
        return by_trace if len(by_trace) == len(wanted) else {}

    stored = await eventually(found, within_s=TIMEOUT_S)
    assert stored, f"not all of {wanted} stored"
    return stored


async def test_requests_and_sessions_are_found_in_audit_access(make_stack: Any) -> None:
    stack: PulseStack = make_stack(**FAST_AUDIT, PULSE_TRUSTED_PROXIES="127.0.0.1")
    stack.start(["persistence", "auth", "ingest", "gateway"])
    token = await stack.token()
    key_id, secret = await create_api_key(stack, ["ingest:metrics"])
    users_trace, users_id = traceparent()
    missing_trace, missing_id = traceparent()
    ingest_trace, ingest_id = traceparent()
    async with httpx.AsyncClient() as client:
        me = await client.get(stack["gateway"].url("/api/v1/auth/me"), headers=bearer(token))
        admin_id = me.json()["id"]
        users = await client.get(
            stack["gateway"].url("/api/v1/admin/users?limit=5"),
            headers={
                **bearer(token),
                "traceparent": users_trace,
                "X-Forwarded-For": "6.6.6.6, 198.51.100.7",  # from a trusted proxy
            },
        )
        assert users.status_code == 200
        assert users.headers["traceparent"].split("-")[1] == users_id
        missing = await client.get(
            stack["gateway"].url("/api/v1/nowhere"), headers={"traceparent": missing_trace}
        )
        assert missing.status_code == 404
        posted = await client.post(
            stack["ingest"].url("/api/v1/metrics"),
            json=[POINT],
            headers={**bearer(secret), "traceparent": ingest_trace},
        )
        assert posted.status_code == 202
    ws_url = stack["gateway"].url("/ws").replace("http://", "ws://")
    async with websockets.connect(ws_url) as socket:
        await socket.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(await socket.recv())["type"] == "ready"
        await socket.send(json.dumps({"type": "ping"}))
        assert json.loads(await socket.recv())["type"] == "pong"
        await socket.close(code=1000)

    stored = await stored_by_trace(stack.database_url, [users_id, missing_id, ingest_id])
    listed = stored[users_id]
    assert listed["service"] == "gateway"
    assert (listed["method"], listed["route"]) == ("GET", "/api/v1/admin/users")
    assert listed["path"] == "/api/v1/admin/users?limit=5"
    assert listed["response_status"] == 200
    assert listed["response_body"] == users.json()
    assert listed["request_header"]["authorization"] == "Bearer [REDACTED]"
    assert listed["user_id"] == admin_id
    assert listed["ip_address"] == "198.51.100.7"
    assert 0 < listed["duration_ms"] < 10_000
    assert (stored[missing_id]["response_status"], stored[missing_id]["route"]) == (404, "")
    assert stored[missing_id]["response_body"]["code"] == "not_found"
    ingested = stored[ingest_id]
    assert (ingested["service"], ingested["route"], ingested["response_status"]) == (
        "ingest",
        "/api/v1/metrics",
        202,
    )
    assert ingested["request_body"] == [POINT]
    assert ingested["user_id"] == f"api_key:{key_id}"

    async def session() -> list[dict[str, Any]]:
        return await access_rows(stack.database_url, "method = 'WS'")

    (socket_row,) = await eventually(session, within_s=TIMEOUT_S)
    assert (socket_row["route"], socket_row["response_status"]) == ("/ws", 101)
    assert (socket_row["frames_in"], socket_row["frames_out"]) == (2, 2)
    assert (socket_row["close_code"], socket_row["user_id"]) == (1000, admin_id)

    # The latency of each route, by status class, on the gateway's /metrics.
    metrics_port = stack["gateway"].env["PULSE_GATEWAY_METRICS_PORT"]
    async with httpx.AsyncClient() as client:
        exposition = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    assert (
        'pulse_http_request_duration_seconds_count{method="GET",route="/api/v1/admin/users",'
        'service="gateway",status="2xx"} 1.0'
    ) in exposition


async def table_text(database_url: str) -> dict[str, str]:
    """Every row of every audit table as text (bytes as Latin-1: the raw dead letters)."""
    conn = await asyncpg.connect(database_url)
    try:
        dumped = {}
        for table in AUDIT_TABLES:
            rows = await conn.fetch(f"SELECT * FROM {table}")
            dumped[table] = "\n".join(
                " | ".join(
                    value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    for value in row.values()
                )
                for row in rows
            )
    finally:
        await conn.close()
    return dumped


async def test_no_secret_is_stored_or_logged(make_stack: Any) -> None:
    """Passwords, access and refresh tokens, API keys and cookies, sent and answered, by
    requests that succeed, are refused (bad JSON, wrong password, 4xx) or break (auth gone):
    none of them in any audit table nor in any service's log output."""
    stack: PulseStack = make_stack(**FAST_AUDIT, PULSE_GATEWAY_AUTH_TIMEOUT_S="1")
    stack.start(["persistence", "auth", "ingest", "gateway"])
    gateway, ingest = stack["gateway"].url, stack["ingest"].url
    tag = uuid.uuid4().hex[:12]
    password = f"canary-password-{tag}"
    canaries = {
        "password": password,
        "new password": f"canary-reset-{tag}",
        "wrong password": f"canary-wrong-{tag}",
        "password in bad JSON": f"canary-badjson-{tag}",
        "password while auth is gone": f"canary-down-{tag}",
        "cookie": f"canary-cookie-{tag}",
        "made-up API key": f"pk_canary{tag[:4]}_{tag}{tag}",
    }
    email = f"canary-{tag}@pulse.test"
    admin = bearer(await stack.token())
    async with httpx.AsyncClient() as client:
        created = await client.post(
            gateway("/api/v1/admin/users"),
            headers=admin,
            json={"email": email, "password": password, "role": "user"},
        )
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]

        # Log in, refresh by cookie, then by body: every token answered is a canary.
        login = await client.post(
            gateway("/api/v1/auth/login"), json={"email": email, "password": password}
        )
        assert login.status_code == 200, login.text
        access, refresh = login.json()["access_token"], login.json()["refresh_token"]
        canaries |= {"access token": access, "refresh token": refresh}
        by_cookie = await client.post(
            gateway("/api/v1/auth/refresh"),
            headers={"Cookie": f"pulse_refresh={refresh}; theme={canaries['cookie']}"},
        )
        assert by_cookie.status_code == 200, by_cookie.text
        refresh_2 = by_cookie.json()["refresh_token"]
        canaries |= {"access token 2": by_cookie.json()["access_token"], "refresh 2": refresh_2}
        by_body = await client.post(
            gateway("/api/v1/auth/refresh"), json={"refresh_token": refresh_2}
        )
        assert by_body.status_code == 200, by_body.text
        access_3, refresh_3 = by_body.json()["access_token"], by_body.json()["refresh_token"]
        canaries |= {"access token 3": access_3, "refresh 3": refresh_3}

        # An API key, made and used on ingest.
        key = await client.post(
            gateway("/api/v1/admin/api-keys"),
            headers=admin,
            json={"name": "canary", "scopes": ["ingest:metrics"]},
        )
        assert key.status_code == 201, key.text
        secret = key.json()["secret"]
        canaries["API key"] = secret
        stored = await client.post(ingest("/api/v1/metrics"), json=POINT, headers=bearer(secret))
        assert stored.status_code == 202, stored.text

        # Refusals carrying every kind of secret.
        refusals = [
            await client.post(
                gateway("/api/v1/auth/login"),
                json={"email": email, "password": canaries["wrong password"]},
            ),
            await client.post(
                gateway("/api/v1/auth/login"),
                content=f'{{"email": "{email}", "password": "{canaries["password in bad JSON"]}"',
                headers={"content-type": "application/json"},
            ),
            await client.get(  # a user's token on an admin route, and secrets everywhere
                gateway(f"/api/v1/admin/users?access_token={access_3}&token={refresh_3}"),
                headers={
                    **bearer(access_3),
                    "Cookie": f"pulse_refresh={refresh_3}; other={canaries['cookie']}",
                    "X-API-Key": secret,
                },
            ),
            await client.post(
                ingest(f"/api/v1/metrics?api_key={secret}"),
                json=POINT,
                headers=bearer(canaries["made-up API key"]),
            ),
            await client.post(
                ingest("/api/v1/metrics"),
                json={**POINT, "value": "high", "token": access_3},
                headers=bearer(secret),
            ),
        ]
        statuses = [response.status_code for response in refusals]
        assert statuses == [401, 400, 403, 401, 400], [r.text for r in refusals]

        # A token in a socket's query string.
        ws_url = gateway(f"/ws?token={access_3}").replace("http://", "ws://")
        async with websockets.connect(ws_url) as socket:
            await socket.send(json.dumps({"type": "auth", "token": access_3}))
            await socket.recv()

        # A new password (which ends the user's sessions).
        reset = await client.post(
            gateway(f"/api/v1/admin/users/{user_id}/password"),
            headers=admin,
            json={"password": canaries["new password"]},
        )
        assert reset.status_code == 200, reset.text

        # Requests whose handling breaks: auth is gone (the gateway's call raises, ingest's
        # key check raises), each answered 503.
        await asyncio.to_thread(stack["auth"].terminate)
        broken = [
            await client.post(
                gateway("/api/v1/auth/login"),
                json={"email": email, "password": canaries["password while auth is gone"]},
            ),
            await client.post(
                ingest("/api/v1/metrics"),
                json=POINT,
                headers=bearer(canaries["made-up API key"] + "x"),
            ),
        ]
        assert [response.status_code for response in broken] == [503, 503]

        # Last, one request to each service: once they are stored, so is all before them.
        last_gateway, gateway_trace = traceparent()
        last_ingest, ingest_trace = traceparent()
        await client.get(gateway("/api/v1/nowhere"), headers={"traceparent": last_gateway})
        await client.get(ingest("/api/v1/nowhere"), headers={"traceparent": last_ingest})
    await stored_by_trace(stack.database_url, [gateway_trace, ingest_trace])

    # The records are there (so finding nothing below means something) ...
    logins = await access_rows(stack.database_url, "route = '/api/v1/auth/login'")
    assert len(logins) >= 4
    assert any(row["request_body"] == {"email": email, "password": "[REDACTED]"} for row in logins)
    assert any(row["response_status"] == 503 for row in logins)
    assert await access_rows(stack.database_url, "method = 'WS'")
    # ... and hold none of the secrets; nor do the services' logs.
    dumped = await table_text(stack.database_url)
    assert dumped["audit_access"].count("[REDACTED]") > 10
    logs = {
        name: service.log_path.read_text(errors="replace")
        for name, service in stack.services.items()
    }
    for what, canary in canaries.items():
        for table, text in dumped.items():
            assert canary not in text, f"the {what} is in {table}"
        for name, log in logs.items():
            assert canary not in log, f"the {what} is in {name}'s log"


async def test_requests_are_answered_while_nats_is_away_and_recorded_once_it_is_back(
    make_stack: Any, database_url: str
) -> None:
    """NATS down: the gateway and ingest still answer (what needs NATS with a 503, what does
    not as usual), their records wait in each process's spool, and reach ``audit_access`` —
    each once — after NATS returns."""
    stack: PulseStack = make_stack(**FAST_AUDIT)
    stack.start(["persistence", "auth", "ingest", "gateway"])
    token = await stack.token()
    key_id, secret = await create_api_key(stack, ["ingest:metrics"])
    await asyncio.to_thread(stack.nats.stop)
    sent: dict[str, int] = {}
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            for _ in range(3):
                parent, trace_id = traceparent()
                answer = await client.get(
                    stack["gateway"].url("/api/v1/no-such-route"), headers={"traceparent": parent}
                )
                sent[trace_id] = answer.status_code
                parent, trace_id = traceparent()
                answer = await client.get(
                    stack["gateway"].url("/api/v1/auth/me"),
                    headers={**bearer(token), "traceparent": parent},
                )
                sent[trace_id] = answer.status_code
                parent, trace_id = traceparent()
                answer = await client.post(
                    stack["ingest"].url("/api/v1/metrics"),
                    json=[POINT],
                    headers={**bearer(secret), "traceparent": parent},
                )
                sent[trace_id] = answer.status_code
    finally:
        await asyncio.to_thread(stack.nats.start)
    # Answered, every one: nothing hung or broke while NATS was away.
    assert all(status < 500 or status == 503 for status in sent.values()), sent
    assert 404 in sent.values()

    stored = await stored_by_trace(database_url, sent)
    assert {trace_id: row["response_status"] for trace_id, row in stored.items()} == sent
    rows = await access_rows(database_url, "trace_id = any($1::text[])", list(sent))
    assert len(rows) == len(sent)  # each once
    assert key_id  # the key was made before the outage; its use is what was recorded
