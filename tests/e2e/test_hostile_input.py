"""Hostile bytes from outside, end to end: refused at once with a reason, never a stall, a
500, a silence or a crashed handler, whichever service decodes them.

Over-deep input made msgspec raise RecursionError (and invalid UTF-8, UnicodeDecodeError)
where every handler expected msgspec.DecodeError: ingest answered nobody and dead-lettered
nothing, and the console log's traceback rendered the 200 KB payload held in its locals,
stalling every other producer for up to 30 s. The stacks here log in the console format, the
one that stalled.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import nats
import nats.errors
import pytest
import websockets
from nats.aio.client import Client as NatsClient
from pulse_contracts import Codec, DeadLetter, subjects

from tests.e2e.test_websocket import MSGPACK_SUBPROTOCOL, binary
from tests.support.stack import (
    PulseStack,
    bearer,
    create_api_key,
    eventually,
    stored_rows,
)

pytestmark = pytest.mark.integration

MSGPACK = "application/msgpack"
STALL_BOUND_S = 2.0
"""How long a well-behaved producer may wait while a hostile one is refused: generous, only a
stall fails it (it was 20-30 s)."""

HOSTILE_METRICS = [
    pytest.param(b"[" * 100_000 + b"]" * 100_000, None, id="json-depth-100000"),
    pytest.param(b"[" * 2_000 + b"]" * 2_000, None, id="json-depth-2000"),
    pytest.param(b"\x91" * 100_000, MSGPACK, id="msgpack-depth-100000"),
    pytest.param(
        b'{"time":"2026-11-22T12:00:00Z","source":"s","name":"n","value":1,"x":'
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}",
        None,
        id="json-deep-unknown-field",
    ),
    pytest.param(
        b'{"time":"2026-11-22T12:00:00Z","source":"\xff","name":"n","value":1}',
        None,
        id="json-invalid-utf8",
    ),
]


def good_point() -> bytes:
    return json.dumps(
        {"time": datetime.now(UTC).isoformat(), "source": "polite", "name": "n", "value": 1.0}
    ).encode()


async def timed_request(
    nc: NatsClient, payload: bytes, headers: dict[str, str] | None = None
) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    reply = await nc.request(subjects.INGEST_METRICS, payload, timeout=30, headers=headers)
    answer: dict[str, Any] = json.loads(reply.data)
    return time.monotonic() - started, answer


async def dead_letters(nc: NatsClient, at_most: int) -> list[DeadLetter]:
    """What DEADLETTER holds (up to ``at_most``), oldest first."""
    sub = await nc.jetstream().pull_subscribe(subjects.DEADLETTER_SUBJECTS, stream="DEADLETTER")
    try:
        messages = await sub.fetch(at_most, timeout=3)
    except nats.errors.TimeoutError:
        return []
    return [Codec().deadletter.decode(message.data) for message in messages]


@pytest.mark.parametrize(("payload", "content_type"), HOSTILE_METRICS)
async def test_hostile_metrics_are_refused_at_once_and_nobody_else_waits(
    make_stack: Any, payload: bytes, content_type: str | None
) -> None:
    stack: PulseStack = make_stack(PULSE_LOG_FORMAT="console")
    stack.start(["auth", "ingest", "gateway"])
    _, secret = await create_api_key(stack, ["ingest:metrics"])
    headers = {"Content-Type": content_type} if content_type else None
    nc = await nats.connect(stack.nats_url)
    try:
        hostile = asyncio.ensure_future(timed_request(nc, payload, headers))
        await asyncio.sleep(0)  # the hostile message goes first
        polite_s, polite = await timed_request(nc, good_point())
        _, refusal = await hostile

        async with httpx.AsyncClient() as client:
            over_http = await client.post(
                stack["ingest"].url("/api/v1/metrics"),
                content=payload,
                headers={**bearer(secret), "Content-Type": content_type or "application/json"},
            )
        polite_after_s, polite_after = await timed_request(nc, good_point())
        [letter] = await dead_letters(nc, 1)
    finally:
        await nc.drain()
    assert polite == {"accepted": 1}
    assert polite_s < STALL_BOUND_S, f"a polite producer waited {polite_s:.1f} s"
    assert set(refusal) == {"error"}, refusal
    assert refusal["error"].startswith(("invalid metric point: ", "malformed ")), refusal
    assert (letter.origin, letter.reason, letter.data) == (
        subjects.INGEST_METRICS,
        refusal["error"],
        payload,
    )
    assert over_http.status_code == 400, over_http.text
    body = over_http.json()
    assert (body["code"], body["message"]) == ("invalid_metrics", refusal["error"])
    assert polite_after == {"accepted": 1}
    assert polite_after_s < STALL_BOUND_S


def login_with(extra: dict[str, Any]) -> dict[str, Any]:
    return {"type": "login", "email": "a@b.c", "password": "not this one", **extra}


DEEP_MSGPACK = msgspec.Raw(b"\x91" * 100_000 + b"\x90")


@pytest.mark.parametrize(
    ("subject", "request_body"),
    [
        pytest.param(
            "rpc.auth.login", msgspec.msgpack.encode(login_with({"x": DEEP_MSGPACK})), id="auth"
        ),
        pytest.param(
            "rpc.auth.login",
            msgspec.msgpack.encode(login_with({"password": "\x00"})).replace(
                b"\xa1\x00", b"\xa1\xff"
            ),
            id="auth-invalid-utf8",
        ),
        pytest.param(
            subjects.RPC_QUERY_METRICS,
            msgspec.msgpack.encode(
                {
                    "type": "metrics_query",
                    "name": "cpu",
                    "start": "2026-01-01T00:00:00Z",
                    "end": "2026-01-02T00:00:00Z",
                    "x": DEEP_MSGPACK,
                }
            ),
            id="persistence",
        ),
    ],
)
async def test_malformed_rpc_requests_get_a_bad_request_reply(
    make_stack: Any, subject: str, request_body: bytes
) -> None:
    stack: PulseStack = make_stack(PULSE_LOG_FORMAT="console")
    stack.start(["auth", "persistence"])
    nc = await nats.connect(stack.nats_url)
    try:
        reply = await nc.request(subject, request_body, timeout=10)
        # ... and the service still answers the next request.
        again = await nc.request(subject, request_body, timeout=10)
    finally:
        await nc.drain()
    for answer in (reply, again):
        error = msgspec.msgpack.decode(answer.data)
        assert (error["type"], error["code"]) == ("error", "bad_request"), error


async def test_hostile_websocket_frames_are_refused_and_the_socket_lives_on(
    make_stack: Any,
) -> None:
    stack: PulseStack = make_stack(PULSE_LOG_FORMAT="console")
    stack.start(["auth", "gateway"])
    token = await stack.token()
    url = stack["gateway"].url("/ws").replace("http://", "ws://")
    deep_json = '{"a":' * 5_000 + "1" + "}" * 5_000
    deep_msgpack = msgspec.msgpack.encode(
        {"type": "auth", "token": "t", "x": msgspec.Raw(b"\x91" * 5_000 + b"\x90")}
    )
    bad_utf8 = msgspec.msgpack.encode({"type": "auth", "token": "\x00"}).replace(
        b"\xa1\x00", b"\xa1\xff"
    )
    # Before authenticating: the socket closes with 4401, not with an internal error.
    for first_frame, subprotocols in (
        (deep_json, None),
        (deep_msgpack, [MSGPACK_SUBPROTOCOL]),
        (bad_utf8, [MSGPACK_SUBPROTOCOL]),
    ):
        async with websockets.connect(url, subprotocols=subprotocols) as ws:
            await ws.send(first_frame)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401, closed.value.rcvd
    # Authenticated: each gets an error frame and the socket still answers.
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(await ws.recv())["type"] == "ready"
        await ws.send(deep_json)
        error = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert (error["type"], error["code"]) == ("error", "bad_frame"), error
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "pong"
    async with websockets.connect(url, subprotocols=[MSGPACK_SUBPROTOCOL]) as ws:
        await ws.send(msgspec.msgpack.encode({"type": "auth", "token": token}))
        assert msgspec.msgpack.decode(binary(await ws.recv()))["type"] == "ready"
        for frame in (deep_msgpack, bad_utf8):
            await ws.send(frame)
            error = msgspec.msgpack.decode(binary(await asyncio.wait_for(ws.recv(), 10)))
            assert (error["type"], error["code"]) == ("error", "bad_frame"), error
        await ws.send(msgspec.msgpack.encode({"type": "ping"}))
        pong = msgspec.msgpack.decode(binary(await asyncio.wait_for(ws.recv(), 10)))
        assert pong["type"] == "pong"


def nul_point(moment: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "time": moment.isoformat(),
        "source": "nul",
        "name": "nul_probe",
        "value": 1.0,
        **fields,
    }


async def test_a_nul_in_a_unit_or_tag_is_refused_by_ingest_not_left_to_the_database(
    make_stack: Any, database_url: str
) -> None:
    """PostgreSQL's text and jsonb refuse U+0000: ingest must refuse the point, or the producer
    is told "accepted" for a point the database will never take."""
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "ingest", "gateway"])
    _, secret = await create_api_key(stack, ["ingest:metrics"])
    moment = datetime.now(UTC)
    nc = await nats.connect(stack.nats_url)
    try:
        unit = await nc.request(
            subjects.INGEST_METRICS,
            json.dumps(nul_point(moment, unit="k\x00B")).encode(),
            timeout=10,
        )
        tag = await nc.request(
            subjects.INGEST_METRICS,
            msgspec.msgpack.encode([nul_point(moment, tags={"host": "a\x00"})]),
            headers={"Content-Type": MSGPACK},
            timeout=10,
        )
        async with httpx.AsyncClient() as client:
            over_http = await client.post(
                stack["ingest"].url("/api/v1/metrics"),
                content=json.dumps([nul_point(moment, tags={"ho\x00st": "a"})]).encode(),
                headers={**bearer(secret), "Content-Type": "application/json"},
            )
        good = await nc.request(
            subjects.INGEST_METRICS, json.dumps(nul_point(moment, unit="kB")).encode(), timeout=10
        )
        assert json.loads(good.data) == {"accepted": 1}
        assert await eventually(lambda: stored_rows(database_url, "nul_probe")) == 1
        letters = await dead_letters(nc, 5)
    finally:
        await nc.drain()
    assert json.loads(unit.data) == {
        "error": "invalid metric point: Expected `str` without NUL (U+0000) - at `$.unit`"
    }
    assert json.loads(tag.data) == {
        "error": "invalid metric point: Expected `str` without NUL (U+0000) - at `$[0].tags[...]`"
    }
    assert over_http.status_code == 400, over_http.text
    assert over_http.json()["errors"] == [
        {"index": 0, "field": "tags", "reason": "Expected `str` without NUL (U+0000) (in a key)"}
    ]
    # Dead-lettered by ingest, with its reason; nothing set aside later by persistence.
    assert [(letter.origin, letter.reason) for letter in letters] == [
        (subjects.INGEST_METRICS, json.loads(unit.data)["error"]),
        (subjects.INGEST_METRICS, json.loads(tag.data)["error"]),
    ]
