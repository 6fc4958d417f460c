"""``/ws/metrics`` as a thin adapter over the ``/ws`` machinery (docs/adr/0020), against real
gateways, nats-server and JetStream: its sockets are in the one registry (counted, closed with
1012 at shutdown), the one sweep closes them at token expiry (4401) but never pings them nor
closes them for silence, and a slow reader meets the one slow-consumer policy (4408)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import pytest
import websockets

from tests.e2e.test_websocket import (
    SERVICES,
    StalledClient,
    claims_of,
    close_code,
    open_socket,
)
from tests.support.stack import PulseStack, bearer, eventually

pytestmark = pytest.mark.integration


def metrics_url(stack: PulseStack, query: str) -> str:
    return stack["gateway"].url(f"/ws/metrics?{query}").replace("http://", "ws://")


async def scrape(stack: PulseStack, series: str) -> float | None:
    """A value of the gateway's /metrics (``series`` with its labels, if any); None if absent."""
    port = stack["gateway"].env["PULSE_GATEWAY_METRICS_PORT"]
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


async def scraped(stack: PulseStack, series: str, expected: float) -> bool:
    return await scrape(stack, series) == expected


async def test_metrics_sockets_are_counted_and_closed_with_1012_at_shutdown(
    make_stack: Any,
) -> None:
    stack: PulseStack = make_stack()
    stack.start(SERVICES)
    headers = bearer(await stack.token())
    async with (
        websockets.connect(metrics_url(stack, "type=cpu"), additional_headers=headers) as cpu,
        websockets.connect(metrics_url(stack, "type=mem"), additional_headers=headers) as mem,
        open_socket(stack) as multiplexed,
    ):
        # Both authenticated and listening to their channels, and counted with the /ws one.
        assert await eventually(lambda: scraped(stack, "pulse_gateway_live_clients", 2))
        assert await scrape(stack, "pulse_gateway_ws_sockets") == 3
        stack["gateway"].process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        codes = await asyncio.gather(
            close_code(cpu),
            close_code(mem),
            close_code(multiplexed.connection, answer_pings=True),
        )
    assert list(codes) == [1012, 1012, 1012]  # gather returns a list (typed as a tuple)


async def test_the_sweep_never_pings_a_metrics_socket_but_closes_it_at_token_expiry(
    make_stack: Any,
) -> None:
    """Heartbeats every second: a ``/ws`` socket that never answers is closed with 4409
    within about two; a silent ``/ws/metrics`` socket (its protocol has no heartbeat) gets
    no ping and stays open until its token expires (6 s here), then is closed with 4401."""
    stack: PulseStack = make_stack(PULSE_WS_HEARTBEAT_S="1", PULSE_AUTH_ACCESS_TOKEN_TTL_S="6")
    stack.start(SERVICES)
    token = await stack.token()
    expires_at = claims_of(token)["exp"]
    async with (
        websockets.connect(metrics_url(stack, "type=quiet")) as quiet,
        open_socket(stack) as silent,
    ):
        await quiet.send(json.dumps({"type": "auth", "token": token}))
        assert await close_code(silent.connection) == 4409  # the sweep runs: /ws is pinged
        received: list[str | bytes] = []

        async def read_to_close() -> None:
            while True:
                received.append(await quiet.recv())

        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(read_to_close(), 30)
        assert received == []  # nothing at all (no data, no ping) until the close
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "token expired")
        assert time.time() >= expires_at


async def test_a_metrics_socket_that_stops_reading_is_closed_as_a_slow_consumer(
    make_stack: Any,
) -> None:
    """A ``/ws/metrics`` client that stops reading while big messages flow: its outbox (8
    messages here) conflates once, fills again within the grace period, and the gateway
    closes it with 4408, counted by the registry; a ``/ws`` client of the same channel
    meanwhile gets every frame."""
    stack: PulseStack = make_stack(
        PULSE_GATEWAY_CLIENT_QUEUE_SIZE="8", PULSE_WS_SLOW_CONSUMER_GRACE_S="30"
    )
    stack.start(SERVICES)
    nc = await nats.connect(stack.nats_url)
    now = datetime.now(UTC)

    def bulky(message: int) -> bytes:  # 2000 points, about 150 KB of JSON; each different
        return json.dumps(
            [
                {"time": (now - timedelta(seconds=message * 2000 + i)).isoformat(),
                 "source": "ws_m", "name": "bulky_points", "value": float(i)}
                for i in range(2000)
            ]
        ).encode()  # fmt: skip

    stalled = await StalledClient.connect(stack, metrics_url(stack, "type=bulky_points"))
    try:
        async with open_socket(stack) as reader:
            await reader.send(type="subscribe", channel="metric:bulky_points")
            await reader.until("subscribed")
            # Both listen to the channel; the registry counts both sockets.
            assert await eventually(lambda: scraped(stack, "pulse_gateway_live_clients", 2))
            assert await scrape(stack, "pulse_gateway_ws_sockets") == 2
            frames: list[dict[str, Any]] = []

            async def read_all() -> None:
                while len(frames) < 200:
                    frames.append(await reader.until("data", within_s=30))

            reading = asyncio.create_task(read_all())
            for message in range(200):
                await nc.request("ingest.metrics", bulky(message), timeout=10)
            await reading
        code = await stalled.read_to_close()
    finally:
        await nc.drain()
        stalled.writer.close()
    assert [frame["type"] for frame in frames] == ["data"] * 200  # not slowed, nothing skipped
    assert code == 4408
    closed_slow = 'pulse_gateway_ws_closed_total{code="4408"}'
    assert await eventually(lambda: scraped(stack, closed_slow, 1))


async def test_a_metrics_socket_flooding_frames_is_closed_with_4429(make_stack: Any) -> None:
    """Every frame a client sends may be a token to verify: a flood of renewals (here within a
    burst of 5 at 1 a second) closes the socket with 4429, while a client renewing now and then
    stays."""
    stack: PulseStack = make_stack(PULSE_WS_SUBSCRIBE_RATE="1", PULSE_WS_SUBSCRIBE_BURST="5")
    stack.start(SERVICES)
    token = await stack.token()
    renewal = json.dumps({"type": "auth", "token": token})
    async with (
        websockets.connect(metrics_url(stack, "type=flood")) as flooding,
        websockets.connect(metrics_url(stack, "type=calm")) as calm,
    ):
        await calm.send(renewal)
        await flooding.send(renewal)

        async def flood_until_closed() -> None:
            for _ in range(200):
                await flooding.send(renewal)
            await asyncio.wait_for(flooding.recv(), 10)

        with pytest.raises(websockets.ConnectionClosed) as closed:
            await flood_until_closed()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4429, "too many frames")
        for _ in range(3):  # within the budget
            await calm.send(renewal)
            await asyncio.sleep(1.1)
        assert await eventually(lambda: scraped(stack, "pulse_gateway_live_clients", 1))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(calm.recv(), 0.5)  # still open: nothing comes, no close
