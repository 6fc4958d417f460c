"""The admins' audit views through the gateway, on real processes: a dead letter replayed
after the fix is stored once (and a second replay is skipped), the replay's own trace story,
refusals with stable codes (400, 404, and 503 while persistence is away), non-admins refused,
and the ``logs`` channel delivering the record of a request as it is stored."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import nats
import pytest
import websockets
from pulse_contracts import subjects

from tests.support.accounts import USER_EMAIL, USER_PASSWORD, create_user
from tests.support.stack import PulseStack, bearer, eventually, login, stored_points

pytestmark = pytest.mark.integration

AUDIT = "/api/v1/admin/audit"
LETTERS = AUDIT + "/dead-letters"
TIMEOUT_S = 30.0
EARLIER, LATER = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"
REFUSED_VALUE = 4242.5
# What the database refuses until the fix: an operator's check gone wrong, say.
BREAK = f"ALTER TABLE metrics ADD CONSTRAINT audit_replay_test CHECK (value <> {REFUSED_VALUE})"
FIX = "ALTER TABLE metrics DROP CONSTRAINT audit_replay_test"


async def execute(database_url: str, statement: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def get(stack: PulseStack, path: str, token: str, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(stack["gateway"].url(path), params=params, headers=bearer(token))


async def post(stack: PulseStack, path: str, token: str, body: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(stack["gateway"].url(path), json=body, headers=bearer(token))


def trace_of(response: httpx.Response) -> str:
    return response.headers["traceparent"].split("-")[1]


async def test_a_dead_letter_replayed_after_the_fix_is_stored_once(
    make_stack: Any, database_url: str
) -> None:
    stack: PulseStack = make_stack()
    stack.start(["auth", "gateway"])
    admin = await stack.token()
    # Nobody answers rpc.audit.* yet: a clear 503, as the other routes.
    away = await get(stack, AUDIT + "/access", admin)
    assert (away.status_code, away.json()["code"]) == (503, "audit_unavailable"), away.text
    stack.start(["persistence", "ingest"])
    await execute(database_url, BREAK)
    nc = await nats.connect(stack.nats_url)
    try:
        moment = datetime.now(UTC).replace(microsecond=0)
        point = {
            "time": moment.isoformat(),
            "source": "e2e",
            "name": "replayed",
            "value": REFUSED_VALUE,
        }
        reply = await nc.request(subjects.INGEST_METRICS, json.dumps(point).encode(), timeout=10)
        assert json.loads(reply.data) == {"accepted": 1}  # ingest took it; the database did not

        async def pending_letter() -> dict[str, Any] | None:
            page = await get(stack, LETTERS, admin, origin="metrics.e2e.", status="pending")
            assert page.status_code == 200, page.text
            items: list[dict[str, Any]] = page.json()["items"]
            return items[0] if items else None

        letter = await eventually(pending_letter, within_s=TIMEOUT_S)
        assert letter is not None, "the refused point never became a dead letter"
        assert letter["origin"] == "metrics.e2e.replayed"
        assert "refused by the database" in letter["reason"]
        assert "audit_replay_test" in letter["reason"]
        assert await stored_points(database_url, "replayed") == []
        shown = await get(stack, f"{LETTERS}/{letter['id']}", admin)
        assert shown.status_code == 200, shown.text
        assert shown.json()["type"] == "deadletters.shown"
        assert shown.json()["letter"]["data"]  # base64 of the original bytes

        # The fix, then the replay: stored once.
        await execute(database_url, FIX)
        replay = await post(stack, LETTERS + "/replay", admin, {"ids": [letter["id"]]})
        assert replay.status_code == 200, replay.text
        assert replay.json() == {
            "type": "deadletters.changed",
            "changed": [letter["id"]],
            "skipped": [],
        }

        async def stored() -> list[Any]:
            return await stored_points(database_url, "replayed")

        assert await eventually(stored, within_s=TIMEOUT_S) == [("e2e", moment, REFUSED_VALUE)]
        again = await post(stack, LETTERS + "/replay", admin, {"ids": [letter["id"]]})
        assert again.json()["skipped"] == [letter["id"]]
        discard = await post(stack, LETTERS + "/discard", admin, {"ids": [letter["id"]]})
        assert discard.json()["skipped"] == [letter["id"]]  # replayed is final
        await asyncio.sleep(2)
        assert await stored() == [("e2e", moment, REFUSED_VALUE)]
        # Two messages on the subject in METRICS: the refused one and the one replay.
        js = nc.jetstream()
        info = await js.stream_info(subjects.METRICS_STREAM, subjects_filter="metrics.e2e.replayed")
        assert info.state.subjects == {"metrics.e2e.replayed": 2}
        after = (await get(stack, f"{LETTERS}/{letter['id']}", admin)).json()["letter"]
        assert (after["status"], after["replays"]) == ("replayed", 1)
        assert after["replayed_by"]

        # The replay's story, from the trace id its response carried: the task that sent the
        # letter, with its step per letter, in order (and the request's own access record, once
        # the gateway records them).
        async def story() -> list[tuple[str, str]] | None:
            found = await get(stack, f"{AUDIT}/traces/{trace_of(replay)}", admin)
            if found.status_code != 200:
                return None
            steps = [
                (item["step"]["step_name"], item["step"]["status"])
                for item in found.json()["items"]
                if item["kind"] == "step"
            ]
            return steps if len(steps) == 3 else None

        assert await eventually(story, within_s=TIMEOUT_S) == [
            ("deadletter_replay", "START"),
            (f"replay {letter['id']}", "SUCCESS"),
            ("deadletter_replay", "SUCCESS"),
        ]
        # The original refusal's trace: the point's dead letter and persistence's decision.
        original = await get(stack, f"{AUDIT}/traces/{letter['trace_id']}", admin)
        assert original.status_code == 200, original.text
        assert {item["kind"] for item in original.json()["items"]} >= {"dead_letter", "step"}
    finally:
        await nc.drain()


async def test_refusals_have_stable_codes_and_non_admins_are_refused(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "gateway"])
    admin = await stack.token()
    cases = [
        (AUDIT + "/access", {"cursor": "nope"}, 400, "bad_cursor"),
        (AUDIT + "/access", {"since": LATER, "until": EARLIER}, 400, "bad_filter"),
        (AUDIT + "/access", {"status": "42"}, 400, "bad_filter"),
        (AUDIT + "/access", {"since": "yesterday"}, 400, "invalid_parameter"),
        (AUDIT + "/access", {"limit": "0"}, 400, "invalid_parameter"),
        (AUDIT + "/access", {"trace_id": "XYZ"}, 400, "invalid_parameter"),
        (AUDIT + "/tasks", {"status": "DONE"}, 400, "invalid_parameter"),
        (LETTERS, {"cursor": "WyJhY2Nlc3MiLDEsMV0"}, 400, "bad_cursor"),
        (AUDIT + "/traces/not-a-trace", {}, 400, "invalid_parameter"),
        (AUDIT + "/traces/" + "0" * 32, {}, 404, "trace_not_found"),
        (LETTERS + "/999999", {}, 404, "dead_letter_not_found"),
        (LETTERS + "/0", {}, 404, "dead_letter_not_found"),
    ]  # fmt: skip
    for path, params, status, code in cases:
        response = await get(stack, path, admin, **params)
        assert (response.status_code, response.json()["code"]) == (status, code), (path, params)
    bodies: tuple[dict[str, object], ...] = (
        {"ids": []},
        {"ids": [0]},
        {"ids": [2**64]},
        {"ids": "1"},
        {},
    )
    for body in bodies:
        response = await post(stack, LETTERS + "/replay", admin, body)
        assert response.status_code == 400, (body, response.text)
    ok = await get(stack, AUDIT + "/access", admin, status="2", method="get", limit="5")
    assert ok.status_code == 200, ok.text
    assert ok.json()["type"] == "access.page"
    await create_user(stack)
    user = await login(stack, USER_EMAIL, USER_PASSWORD)
    for path in (
        AUDIT + "/access",
        AUDIT + "/tasks",
        LETTERS,
        LETTERS + "/1",
        AUDIT + "/traces/" + "0" * 32,
    ):
        refused = await get(stack, path, user)
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden"), path
    for path in (LETTERS + "/replay", LETTERS + "/discard"):
        refused = await post(stack, path, user, {"ids": [1]})
        assert (refused.status_code, refused.json()["code"]) == (403, "forbidden"), path


async def test_the_logs_channel_delivers_the_record_of_a_request(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "gateway"])
    admin = await stack.token()
    await create_user(stack)
    user = await login(stack, USER_EMAIL, USER_PASSWORD)
    url = stack["gateway"].url("/ws").replace("http://", "ws://")
    async with websockets.connect(url) as socket:
        await socket.send(json.dumps({"type": "auth", "token": user}))
        assert json.loads(await socket.recv())["type"] == "ready"
        await socket.send(json.dumps({"type": "subscribe", "channel": "logs"}))
        refused = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert (refused["type"], refused["code"]) == ("error", "forbidden"), refused
    async with websockets.connect(url) as socket:
        await socket.send(json.dumps({"type": "auth", "token": admin}))
        assert json.loads(await socket.recv())["type"] == "ready"
        await socket.send(
            json.dumps({"type": "subscribe", "channel": "logs", "history": {"minutes": 1}})
        )
        refused = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert (refused["type"], refused["code"]) == ("error", "unsupported_option"), refused
        await socket.send(json.dumps({"type": "subscribe", "channel": "logs"}))
        subscribed = json.loads(await asyncio.wait_for(socket.recv(), 10))
        assert subscribed["type"] == "subscribed", subscribed
        # A request that records: a replay (of no letter) is a task in the request's trace.
        request = await post(stack, LETTERS + "/replay", admin, {"ids": [424242]})
        assert request.status_code == 200, request.text
        assert request.json()["skipped"] == [424242]

        async def record_of_the_request() -> dict[str, Any]:
            while True:
                frame = json.loads(await socket.recv())
                if frame["type"] != "logs":
                    continue
                assert frame["channel"] == "logs"
                assert frame["seq"] > 0
                for record in frame["records"]:
                    if record["trace_id"] == trace_of(request):
                        return record  # type: ignore[no-any-return]

        record = await asyncio.wait_for(record_of_the_request(), TIMEOUT_S)
        assert record["type"] in ("access", "step")
        assert record["service"] in ("gateway", "persistence")
