"""A ``/ws`` socket's life, through the gateway's own app (the real route, registry, session
and channel hub) and Litestar's test client: authenticate (first frame or handshake) or be
closed with 4401, read frames and answer them, refuse what a socket may not do with an error
frame naming the code, renew its token, and be closed when it keeps sending refused frames.
NATS is a stand-in whose live messages the test hands in; no server runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import AsyncTestClient, WebSocketTestSession
from pulse_contracts import subjects
from pulse_contracts.audit import AccessRecord
from pulse_contracts.notifications import InboxChange
from pulse_gateway.app import create_app
from pulse_gateway.identity.keyring import KeyRing
from pulse_gateway.live import authentication
from pulse_gateway.live.fanout import ChannelHub
from pulse_gateway.live.frames import MSGPACK_SUBPROTOCOL, FrameCodec
from pulse_gateway.live.registry import SocketRegistry
from pulse_gateway.settings import GatewaySettings, WebSocketSettings
from pulse_runtime.audit import RecordList

from services.gateway.tests.support import (
    LiveMessage,
    LiveNats,
    StoredStream,
    Tokens,
    batch,
    republished,
)


class Gateway:
    """The app and the parts a test looks at: its live NATS stand-in and its sockets."""

    def __init__(self, client: AsyncTestClient[Any], nats: LiveNats, sockets: SocketRegistry):
        self.client = client
        self.nats = nats
        self.sockets = sockets

    async def connect(self, **options: Any) -> WebSocketTestSession:
        return await self.client.websocket_connect("/ws", **options)

    def call(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run ``function`` on the app's event loop (the test client runs it in a thread)."""
        return self.client.blocking_portal.call(function, *args)

    def publish(self, *args: Any, **kwargs: Any) -> None:
        self.call(self.nats.publish, republished(*args, **kwargs))


@asynccontextmanager
async def gateway(
    keyring: KeyRing, audit: RecordList | None = None, **websocket: Any
) -> AsyncIterator[Gateway]:
    nats = LiveNats()
    frames = FrameCodec()
    hub = ChannelHub(cast(Any, nats), cast(Any, StoredStream()), frames)
    sockets = SocketRegistry(
        hub=hub,
        reader=cast(Any, StoredStream()),
        keyring=keyring,
        class_owners=cast(Any, None),  # no class channel is watched here
        frames=frames,
        settings=WebSocketSettings(**websocket),
        audit=audit,
    )

    async def ready() -> dict[str, bool]:
        return {}

    app = create_app(
        settings=GatewaySettings(),
        history=cast(Any, None),
        hub=hub,
        sockets=sockets,
        keyring=keyring,
        auth=cast(Any, None),
        readiness=ready,
        classes=cast(Any, None),
        notifier=cast(Any, None),
        rules=cast(Any, None),
        trail=cast(Any, None),
    )
    async with AsyncTestClient(app) as client:
        yield Gateway(client, nats, sockets)


def receive(ws: WebSocketTestSession) -> dict[str, Any]:
    frame: dict[str, Any] = ws.receive_json(timeout=5)
    return frame


def closed(ws: WebSocketTestSession) -> tuple[int, str]:
    """Read until the gateway closes the socket: its close code and reason."""
    while True:
        try:
            receive(ws)
        except WebSocketDisconnect as closing:
            return closing.code, closing.detail


def auth(token: str) -> dict[str, str]:
    return {"type": "auth", "token": token}


# -- authentication --------------------------------------------------------------------------


async def test_an_auth_frame_with_a_valid_token_gets_ready(
    keyring: KeyRing, tokens: Tokens
) -> None:
    claims = tokens.claims("instructor", user="ada")
    async with gateway(keyring, heartbeat_s=15.0) as pulse:
        with await pulse.connect() as ws:
            ws.send_json(auth(tokens.sign(claims)))
            ready = receive(ws)
    assert ready == {
        "type": "ready",
        "user": "ada@example.com",
        "role": "instructor",
        "heartbeat_s": 15.0,
        "expires_at": datetime.fromtimestamp(claims.exp, UTC).isoformat().replace("+00:00", "Z"),
    }


async def test_a_token_on_the_handshake_needs_no_auth_frame(
    keyring: KeyRing, tokens: Tokens
) -> None:
    async with gateway(keyring) as pulse:
        headers = {"Authorization": f"Bearer {tokens.issue('admin')}"}
        with await pulse.connect(headers=headers) as ws:
            assert receive(ws)["role"] == "admin"


@pytest.mark.parametrize(
    ("first_frame", "reason"),
    [
        (None, "authentication required"),  # says nothing in time
        ("{not json", "authentication required"),
        ({"type": "ping"}, "authentication required"),  # anything but auth first
        ({"type": "hello"}, "authentication required"),
        (auth("not-a-token"), "invalid token (malformed)"),
        ("expired", "invalid token (expired)"),
        ("forged", "invalid token (unknown_kid)"),
    ],
)
async def test_without_a_valid_token_first_the_socket_closes_with_4401(
    keyring: KeyRing,
    tokens: Tokens,
    monkeypatch: pytest.MonkeyPatch,
    first_frame: Any,
    reason: str,
) -> None:
    monkeypatch.setattr(authentication, "AUTH_TIMEOUT_S", 0.2)
    if first_frame == "expired":
        first_frame = auth(tokens.issue(expired_s_ago=60))
    elif first_frame == "forged":
        first_frame = auth(tokens.forged())
    async with gateway(keyring) as pulse:
        with await pulse.connect() as ws:
            if isinstance(first_frame, str):
                ws.send_text(first_frame)
            elif first_frame is not None:
                ws.send_json(first_frame)
            assert closed(ws) == (4401, reason)


async def test_a_refused_token_on_the_handshake_closes_with_4401(
    keyring: KeyRing, tokens: Tokens
) -> None:
    async with gateway(keyring) as pulse:
        headers = {"Authorization": f"Bearer {tokens.forged()}"}
        with await pulse.connect(headers=headers) as ws:
            assert closed(ws) == (4401, "invalid token (unknown_kid)")


async def test_msgpack_is_spoken_to_a_client_that_offers_its_subprotocol(
    keyring: KeyRing, tokens: Tokens
) -> None:
    async with gateway(keyring) as pulse:
        with await pulse.connect(subprotocols=[MSGPACK_SUBPROTOCOL]) as ws:
            ws.send_bytes(msgspec.msgpack.encode(auth(tokens.issue())))
            ready = msgspec.msgpack.decode(ws.receive_bytes(timeout=5))
            ws.send_bytes(msgspec.msgpack.encode({"type": "ping"}))
            pong = msgspec.msgpack.decode(ws.receive_bytes(timeout=5))
    assert ws.accepted_subprotocol == MSGPACK_SUBPROTOCOL
    assert (ready["type"], ready["role"], pong) == ("ready", "user", {"type": "pong"})


# -- frames and refusals ---------------------------------------------------------------------


async def test_subscribe_then_live_data_then_unsubscribe(keyring: KeyRing, tokens: Tokens) -> None:
    async with gateway(keyring) as pulse:
        with await pulse.connect() as ws:
            ws.send_json(auth(tokens.issue()))
            receive(ws)
            ws.send_json({"type": "subscribe", "channel": "metric:cpu"})
            assert receive(ws) == {
                "type": "subscribed",
                "channel": "metric:cpu",
                "seq": 0,
                "history": None,
                "max_rate": None,
            }
            pulse.publish(batch("host1", "cpu", 0.5, 0.75), 7)
            data = receive(ws)
            ws.send_json({"type": "unsubscribe", "channel": "metric:cpu"})
            assert receive(ws) == {"type": "unsubscribed", "channel": "metric:cpu"}
            assert pulse.nats.subscriptions[0].unsubscribed  # its last listener left
    assert data == {
        "type": "data",
        "channel": "metric:cpu",
        "seq": 7,
        "source": "host1",
        "name": "cpu",
        "points": [
            {"time": "2026-01-01T00:00:00Z", "value": 0.5},
            {"time": "2026-01-01T00:00:01Z", "value": 0.75},
        ],
        "unit": "%",
    }


async def test_a_socket_that_goes_away_leaves_its_channels(
    keyring: KeyRing, tokens: Tokens
) -> None:
    async with gateway(keyring) as pulse:
        with await pulse.connect() as ws:
            ws.send_json(auth(tokens.issue()))
            receive(ws)
            ws.send_json({"type": "subscribe", "channel": "metric:cpu"})
            receive(ws)
            assert len(pulse.sockets) == 1
        for _ in range(500):  # the app notices the disconnect on its own loop
            if not len(pulse.sockets) and pulse.nats.subscriptions[0].unsubscribed:
                break
            await asyncio.sleep(0.01)
        assert len(pulse.sockets) == 0
        assert pulse.nats.subscriptions[0].unsubscribed


async def test_each_refused_frame_gets_an_error_frame_with_its_code_and_the_socket_lives_on(
    keyring: KeyRing, tokens: Tokens
) -> None:
    history = {"minutes": 9999}
    refused = [
        ("{not json", "bad_frame", None),
        ({"type": "hello"}, "bad_frame", None),
        ({"type": "subscribe", "channel": "metric:cpu", "colour": "red"}, "bad_frame", None),
        ({"type": "subscribe", "channel": "nonsense:x"}, "unknown_channel", "nonsense:x"),
        ({"type": "subscribe", "channel": "metric:a.b"}, "unknown_channel", "metric:a.b"),
        ({"type": "unsubscribe", "channel": "metric:never"}, "not_subscribed", "metric:never"),
        (
            {"type": "subscribe", "channel": "metric:mem", "history": history},
            "history_too_long",
            "metric:mem",
        ),
        ({"type": "subscribe", "channel": "metric:cpu"}, "already_subscribed", "metric:cpu"),
        (
            {"type": "subscribe", "channel": "class:py101", "max_rate": 1},
            "unsupported_option",
            "class:py101",
        ),
    ]
    async with gateway(keyring, subscribe_burst=100) as pulse:
        with await pulse.connect() as ws:
            ws.send_json(auth(tokens.issue("admin")))
            receive(ws)
            ws.send_json({"type": "subscribe", "channel": "metric:cpu"})
            assert receive(ws)["type"] == "subscribed"
            for frame, code, channel in refused:
                if isinstance(frame, str):
                    ws.send_text(frame)
                else:
                    ws.send_json(frame)
                error = receive(ws)
                assert (error["type"], error["code"], error.get("channel")) == (
                    "error",
                    code,
                    channel,
                ), frame
            ws.send_json({"type": "ping"})
            assert receive(ws) == {"type": "pong"}


async def test_an_unknown_frame_type_is_named_in_its_error(
    keyring: KeyRing, tokens: Tokens
) -> None:
    async with gateway(keyring) as pulse:
        with await pulse.connect() as ws:
            ws.send_json(auth(tokens.issue()))
            receive(ws)
            ws.send_json({"type": "hello"})
            error = receive(ws)
    assert error == {
        "type": "error",
        "code": "bad_frame",
        "message": "unreadable frame: Invalid value 'hello' - at `$.type`",
        "channel": None,
    }


@pytest.mark.parametrize(("role", "channel"), [("student", "metric:cpu"), ("user", "class:py101")])
async def test_a_role_that_may_not_watch_a_channel_is_refused_it(
    keyring: KeyRing, tokens: Tokens, role: str, channel: str
) -> None:
    async with gateway(keyring) as pulse:
        with await pulse.connect() as ws:
            ws.send_json(auth(tokens.issue(role)))
            receive(ws)
            ws.send_json({"type": "subscribe", "channel": channel})
            error = receive(ws)
    assert error == {
        "type": "error",
        "code": "forbidden",
        "message": f"the {role} role may not watch {channel!r}",
        "channel": channel,
    }
    assert pulse.nats.subscriptions == []  # refused before any channel was opened


async def test_too_many_subscribe_requests_close_the_socket_with_4429(
    keyring: KeyRing, tokens: Tokens
) -> None:
    """A burst of two requests, then refusals: two are answered, the third closes."""
    async with gateway(keyring, subscribe_rate=0.01, subscribe_burst=2) as pulse:
        with await pulse.connect() as ws:
            ws.send_json(auth(tokens.issue()))
            receive(ws)
            answers = []
            for name in ("a", "b", "c", "d"):
                ws.send_json({"type": "subscribe", "channel": f"metric:{name}"})
                answer = receive(ws)
                answers.append(answer.get("code", answer["type"]))
            ws.send_json({"type": "subscribe", "channel": "metric:e"})
            assert closed(ws) == (4429, "too many subscribe requests")
    assert answers == ["subscribed", "subscribed", "rate_limited", "rate_limited"]


async def test_too_many_refused_frames_close_the_socket_with_4400(
    keyring: KeyRing, tokens: Tokens
) -> None:
    async with gateway(keyring, subscribe_rate=0.01, subscribe_burst=2) as pulse:
        with await pulse.connect() as ws:
            ws.send_json(auth(tokens.issue()))
            receive(ws)
            for _ in range(2):
                ws.send_text("{not json")
                assert receive(ws)["code"] == "bad_frame"
            ws.send_text("{not json")
            assert closed(ws) == (4400, "too many refused frames")


# -- renewal ---------------------------------------------------------------------------------


async def test_a_fresh_token_of_the_same_user_keeps_the_socket_past_its_first_tokens_expiry(
    keyring: KeyRing, tokens: Tokens
) -> None:
    """Both sockets open with a token past its expiry (accepted within the verifier's leeway);
    the sweep closes the one that was not renewed with 4401 within a second. A bad token or
    another user's does not count as a renewal."""
    async with gateway(keyring) as pulse:
        with await pulse.connect() as lapsing, await pulse.connect() as renewed:
            for ws in (lapsing, renewed):
                ws.send_json(auth(tokens.issue(user="ada", expired_s_ago=1)))
                assert receive(ws)["type"] == "ready"
            lapsing.send_json(auth("not-a-token"))
            assert receive(lapsing)["message"] == "token not accepted (malformed)"
            lapsing.send_json(auth(tokens.issue(user="bob")))
            assert receive(lapsing) == {
                "type": "error",
                "code": "invalid_token",
                "message": "a socket keeps the user it was opened by",
                "channel": None,
            }
            renewed.send_json(auth(tokens.issue(user="ada")))
            renewed.send_json({"type": "ping"})
            assert receive(renewed) == {"type": "pong"}  # the renewal before it was read
            pulse.call(pulse.sockets.start)
            try:
                assert closed(lapsing) == (4401, "token expired")
                await asyncio.sleep(1.1)  # a whole sweep more: the renewed socket's turn came
                renewed.send_json({"type": "ping"})
                assert receive(renewed) == {"type": "pong"}
            finally:
                pulse.call(pulse.sockets.stop)


def inbox_change(user_id: str, seq: int, unread: int) -> LiveMessage:
    """A change of ``user_id``'s inbox as NOTIFICATIONS republishes it."""
    subject = subjects.notifications_subject(user_id)
    change = InboxChange(
        change="read", user_id=user_id, unread=unread, version=seq, ids=[seq], at=datetime.now(UTC)
    )
    headers = {"Nats-Sequence": str(seq), "Nats-Subject": subject}
    return LiveMessage(subjects.live_subject(subject), msgspec.msgpack.encode(change), headers)


@pytest.mark.parametrize("role", ["student", "user", "instructor", "admin"])
async def test_every_role_watches_its_own_inbox_and_nobody_elses(
    keyring: KeyRing, tokens: Tokens, role: str
) -> None:
    """Two users on the same ``notifications`` channel name: one NATS subscription each, to
    their own subject; a change of one inbox reaches its owner only."""
    async with gateway(keyring) as pulse:
        with await pulse.connect() as mine, await pulse.connect() as theirs:
            mine.send_json(auth(tokens.issue(role, user="me")))
            theirs.send_json(auth(tokens.issue("user", user="them")))
            receive(mine), receive(theirs)
            for ws in (mine, theirs):
                ws.send_json({"type": "subscribe", "channel": "notifications"})
                assert receive(ws)["type"] == "subscribed"
            assert sorted(s.subject for s in pulse.nats.subscriptions) == [
                "live.notifications.me",
                "live.notifications.them",
            ]
            pulse.call(pulse.nats.publish, inbox_change("them", 3, unread=4))
            pulse.call(pulse.nats.publish, inbox_change("me", 5, unread=1))
            frame = receive(mine)
            assert receive(theirs)["seq"] == 3
    assert frame == {
        "type": "notification",
        "channel": "notifications",
        "seq": 5,
        "change": "read",
        "unread": 1,
        "version": 5,
        "notification": None,
        "ids": [5],
    }


# -- the session's access record -------------------------------------------------------------


async def session_records(records: RecordList) -> list[AccessRecord]:
    """The access records once the server has seen the socket end."""
    for _ in range(100):
        if records:
            break
        await asyncio.sleep(0.02)
    return [record for record in records if isinstance(record, AccessRecord)]


async def test_a_session_is_recorded_at_its_close_with_its_frames_and_close_code(
    keyring: KeyRing, tokens: Tokens
) -> None:
    records = RecordList()
    token = tokens.issue("instructor", user="ada")
    async with gateway(keyring, audit=records) as pulse:
        with await pulse.connect(
            params={"token": token, "view": "live"}, headers={"Cookie": f"pulse_refresh={token}"}
        ) as ws:
            ws.send_json(auth(token))
            receive(ws)  # ready
            for _ in range(2):
                ws.send_json({"type": "ping"})
                receive(ws)  # pong
            ws.close(code=1000)
        (record,) = await session_records(records)
    assert (record.method, record.route, record.response_status) == ("WS", "/ws", 101)
    assert record.path == "/ws?token=%5BREDACTED%5D&view=live"
    assert record.request_header["cookie"] == "pulse_refresh=[REDACTED]"
    assert (record.frames_in, record.frames_out, record.close_code) == (3, 3, 1000)
    assert record.user_id == "ada"
    assert record.duration_ms > 0
    assert token not in repr(record)


async def test_a_refused_session_is_recorded_with_4401_and_no_user(
    keyring: KeyRing, tokens: Tokens
) -> None:
    records = RecordList()
    async with gateway(keyring, audit=records) as pulse:
        with await pulse.connect(headers={"Authorization": f"Bearer {tokens.forged()}"}) as ws:
            assert closed(ws)[0] == 4401
        (record,) = await session_records(records)
    assert (record.close_code, record.user_id, record.frames_in) == (4401, None, 0)
    assert record.request_header["authorization"] == "Bearer [REDACTED]"
