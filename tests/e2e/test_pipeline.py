"""The spine end to end: producer -> ingest -> JetStream -> persistence -> gateway -> client."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import nats
import pytest
import websockets
from pulse_contracts import Codec, subjects

from tests.support.stack import PulseStack, bearer, eventually

pytestmark = pytest.mark.integration


def point(name: str, value: float, moment: datetime, source: str = "e2e") -> dict[str, Any]:
    return {"time": moment.isoformat(), "source": source, "name": name, "value": value}


async def history(stack: PulseStack, name: str, since: datetime) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(
            stack["gateway"].url("/api/v1/metrics"),
            params={"name": name, "from": since.isoformat()},
            headers=bearer(await stack.token()),
        )
    assert response.status_code == 200, response.text
    series: list[dict[str, Any]] = response.json()["series"]
    return series


async def test_json_and_msgpack_points_come_back_from_rest_history(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "ingest", "gateway"])
    moment = datetime.now(UTC).replace(microsecond=123456)
    nc = await nats.connect(stack.nats_url)
    try:
        await nc.publish(
            subjects.INGEST_METRICS,
            json.dumps(point("probe", 1.5, moment, source="json_producer")).encode(),
            headers={"Content-Type": "application/json"},
        )
        await nc.publish(
            subjects.INGEST_METRICS,
            msgspec.msgpack.encode([point("probe", 2.5, moment, source="msgpack_producer")]),
            headers={"Content-Type": "application/msgpack"},
        )
    finally:
        await nc.drain()

    async def both_stored() -> list[dict[str, Any]]:
        series = await history(stack, "probe", moment - timedelta(minutes=1))
        return series if len(series) == 2 else []

    series = await eventually(both_stored)
    assert sorted(series, key=lambda p: p["source"]) == [
        {
            "timestamp": moment.isoformat().replace("+00:00", "Z"),
            "value": 1.5,
            "type": "probe",
            "source": "json_producer",
        },
        {
            "timestamp": moment.isoformat().replace("+00:00", "Z"),
            "value": 2.5,
            "type": "probe",
            "source": "msgpack_producer",
        },
    ]


async def test_websocket_receives_live_cpu_points_once_a_second(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "ingest", "gateway", "generator"])
    url = stack["gateway"].url("/ws/metrics?type=cpu").replace("http://", "ws://")
    async with websockets.connect(url) as socket:
        await socket.send(json.dumps({"type": "auth", "token": await stack.token()}))
        frames: list[dict[str, Any]] = []
        arrivals: list[float] = []
        for _ in range(4):
            frames.append(json.loads(await asyncio.wait_for(socket.recv(), 10)))
            arrivals.append(time.monotonic())
    assert {frame["type"] for frame in frames} == {"cpu"}
    assert all(0.0 <= frame["value"] <= 100.0 for frame in frames)
    times = [datetime.fromisoformat(frame["timestamp"]) for frame in frames]
    # The generator's schedule is 1 Hz: consecutive points are one second apart.
    assert [b - a for a, b in itertools.pairwise(times)] == [timedelta(seconds=1)] * 3
    # ... and they arrive live, spread over about three seconds, not in one burst. A lower
    # bound only: a loaded machine can only stretch it.
    assert arrivals[-1] - arrivals[0] >= (len(arrivals) - 1) * 0.5, arrivals


async def test_malformed_message_is_deadlettered_and_later_ones_still_arrive(
    make_stack: Any,
) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "ingest", "gateway"])
    moment = datetime.now(UTC)
    nc = await nats.connect(stack.nats_url)
    try:
        await nc.publish(subjects.INGEST_METRICS, b"{oops")
        await nc.publish(
            subjects.INGEST_METRICS,
            json.dumps(point("after_bad", 7.0, moment)).encode(),
        )
        await nc.flush()

        series = await eventually(
            lambda: history(stack, "after_bad", moment - timedelta(minutes=1))
        )
        assert [p["value"] for p in series] == [7.0]

        js = nc.jetstream()
        sub = await js.pull_subscribe(subjects.DEADLETTER_SUBJECTS, stream="DEADLETTER")
        [message] = await sub.fetch(1, timeout=5)
        letter = Codec().deadletter.decode(message.data)
    finally:
        await nc.drain()
    assert letter.origin == subjects.INGEST_METRICS
    assert letter.data == b"{oops"
    assert (
        letter.reason == "malformed JSON: JSON is malformed: object keys must be strings (byte 1)"
    )


async def test_producer_request_gets_acknowledgement_or_reason(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["ingest"])
    nc = await nats.connect(stack.nats_url)
    try:
        good = await nc.request(
            subjects.INGEST_METRICS,
            json.dumps([point("acked", 1.0, datetime.now(UTC))] * 2).encode(),
            timeout=5,
        )
        naive = await nc.request(
            subjects.INGEST_METRICS,
            json.dumps(
                {"time": "2026-01-01T00:00:00", "source": "s", "name": "n", "value": 1}
            ).encode(),
            timeout=5,
        )
    finally:
        await nc.drain()
    assert json.loads(good.data) == {"accepted": 2}
    assert json.loads(naive.data) == {
        "error": "invalid metric point: Expected `datetime` with a timezone component - at `$.time`"
    }


@pytest.mark.parametrize(
    ("query", "code", "parameter"),
    [
        ({"from": "2026-01-01T00:00:00Z"}, "missing_parameter", "type"),
        ({"type": "cpu"}, "missing_parameter", "from"),
        ({"type": "cpu", "from": "last tuesday"}, "invalid_parameter", "from"),
        ({"type": "cpu", "from": "2026-01-01T00:00:00"}, "invalid_parameter", "from"),
        (
            {"type": "cpu", "from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
            "invalid_parameter",
            "to",
        ),
        ({"type": "cpu.load", "from": "2026-01-01T00:00:00Z"}, "invalid_parameter", "type"),
        (
            {"type": "cpu", "source": "a b", "from": "2026-01-01T00:00:00Z"},
            "invalid_parameter",
            "source",
        ),
    ],
)
async def test_bad_history_parameters_get_400_naming_the_parameter(
    make_stack: Any, query: dict[str, str], code: str, parameter: str
) -> None:
    stack: PulseStack = make_stack()
    stack.start(["auth", "gateway"])
    async with httpx.AsyncClient() as client:
        response = await client.get(
            stack["gateway"].url("/api/v1/metrics"),
            params=query,
            headers=bearer(await stack.token()),
        )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert body["parameter"] == parameter
    assert body["message"].startswith(f"{parameter}: ")


async def test_history_without_persistence_is_a_clear_503(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["auth", "gateway"])
    async with httpx.AsyncClient() as client:
        response = await client.get(
            stack["gateway"].url("/api/v1/metrics"),
            params={"type": "cpu", "from": "2026-01-01T00:00:00Z"},
            headers=bearer(await stack.token()),
        )
    assert response.status_code == 503
    assert response.json()["code"] == "history_unavailable"


async def scrape(stack: PulseStack, metric: str) -> float:
    port = stack["gateway"].env["PULSE_GATEWAY_METRICS_PORT"]
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    [line] = [line for line in text.splitlines() if line.startswith(metric + " ")]
    return float(line.split()[1])


async def test_clients_of_one_channel_share_one_nats_subscription(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "ingest", "gateway", "generator"])
    base = stack["gateway"].url("/ws/metrics").replace("http://", "ws://")
    headers = bearer(await stack.token())
    async with (
        websockets.connect(base + "?type=cpu", additional_headers=headers) as first,
        websockets.connect(base + "?type=cpu", additional_headers=headers) as second,
        websockets.connect(base + "?type=mem", additional_headers=headers) as third,
    ):
        # Generous: on a loaded machine a new channel's first point may take a few intervals.
        frames = [json.loads(await asyncio.wait_for(s.recv(), 30)) for s in (first, second, third)]
        assert [f["type"] for f in frames] == ["cpu", "cpu", "mem"]
        assert await scrape(stack, "pulse_gateway_live_clients") == 3
        assert await scrape(stack, "pulse_gateway_live_channels") == 2

    async def channels_closed() -> bool:
        return await scrape(stack, "pulse_gateway_live_channels") == 0

    assert await eventually(channels_closed)
    assert await scrape(stack, "pulse_gateway_live_clients") == 0


async def test_bad_websocket_parameters_close_with_policy_violation(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["auth", "gateway"])
    url = stack["gateway"].url("/ws/metrics?type=no.dots").replace("http://", "ws://")
    async with websockets.connect(url) as socket:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason.startswith("type: 'no.dots' is not valid")


async def test_history_at_a_resolution_and_the_catalog(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "ingest", "gateway"])
    start = datetime(2026, 11, 20, tzinfo=UTC)
    points = [
        point("zoomed", float(i % 60), start + timedelta(seconds=10 * i), source="zoom")
        for i in range(6 * 60 * 6)  # six hours, one point every 10 s
    ]
    nc = await nats.connect(stack.nats_url)
    try:
        reply = await nc.request(subjects.INGEST_METRICS, json.dumps(points).encode(), timeout=10)
        assert json.loads(reply.data) == {"accepted": len(points)}
    finally:
        await nc.drain()
    token = await stack.token()
    async with httpx.AsyncClient(headers=bearer(token)) as client:

        async def six_hours(max_points: int | None) -> dict[str, Any]:
            params = {
                "name": "zoomed",
                "from": start.isoformat(),
                "to": (start + timedelta(hours=6)).isoformat(),
            }
            if max_points is not None:
                params["max_points"] = str(max_points)
            response = await client.get(stack["gateway"].url("/api/v1/metrics"), params=params)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        async def all_stored() -> bool:
            return len((await six_hours(10_000))["series"]) == len(points)

        assert await eventually(all_stored)
        raw = await six_hours(10_000)
        plain = await six_hours(None)
        hourly = await six_hours(6)
        catalog = (await client.get(stack["gateway"].url("/api/v1/metrics/catalog"))).json()
    # With max_points (the raw points fit) and without it alike, the answer says "raw".
    for answer in (raw, plain):
        assert {key: value for key, value in answer.items() if key != "series"} == {
            "resolution": "raw"
        }
    assert [(p["timestamp"], p["value"]) for p in plain["series"]] == [
        (p["timestamp"], p["value"]) for p in raw["series"]
    ]
    assert (hourly["resolution"], hourly["bucket_seconds"]) == ("1h", 3600)
    assert len(hourly["series"]) == 6
    assert hourly["series"][0] == {
        "timestamp": "2026-11-20T00:00:00Z",
        "value": 29.5,
        "type": "zoomed",
        "source": "zoom",
        "min": 0.0,
        "max": 59.0,
        "avg": 29.5,
        "count": 360,
    }
    [zoom] = [s for s in catalog["series"] if s["name"] == "zoomed"]
    assert zoom["latest_time"] == "2026-11-20T05:59:50Z"
    assert zoom["latest_value"] == 59.0


async def bucket_counts(
    stack: PulseStack, name: str, start: datetime, end: datetime, max_points: int
) -> tuple[str, int]:
    """The resolution of a bucketed answer and how many points its buckets count."""
    async with httpx.AsyncClient() as client:
        response = await client.get(
            stack["gateway"].url("/api/v1/metrics"),
            params={
                "name": name,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "max_points": max_points,
            },
            headers=bearer(await stack.token()),
        )
    assert response.status_code == 200, response.text
    body = response.json()
    return body["resolution"], sum(bucket["count"] for bucket in body["series"])


async def test_backfilled_points_reach_bucketed_history_in_every_range(
    make_stack: Any, database_url: str
) -> None:
    """Points 3 days to 3 hours old arrive after the rollups were refreshed over newer data
    (on TimescaleDB: below their watermark). Bucketed answers over that span count them all,
    at every resolution; on plain PostgreSQL they are computed from the raw rows anyway."""
    stack: PulseStack = make_stack()
    stack.start(["persistence", "auth", "ingest", "gateway"])
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    recent = [point("backfilled", 1.0, now - timedelta(minutes=m)) for m in range(120, 1, -1)]
    old = [
        point("backfilled", float(m % 50), now - timedelta(minutes=m)) for m in range(4320, 180, -1)
    ]
    nc = await nats.connect(stack.nats_url)
    try:
        ack = await nc.request(subjects.INGEST_METRICS, json.dumps(recent).encode(), timeout=10)
        assert json.loads(ack.data) == {"accepted": len(recent)}
        span = (now - timedelta(hours=2, minutes=1), now)
        assert await eventually(
            lambda: bucket_counts(stack, "backfilled", *span, 10), within_s=30
        ) == ("15m", len(recent)), "the recent points were not stored"
        conn = await asyncpg.connect(database_url)
        try:
            if await conn.fetchval(
                "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
            ):
                # What the refresh policies do on schedule: materialise up to their window end.
                for rollup, end_offset in (("metrics_1m", "1 minute"), ("metrics_1h", "1 hour")):
                    for attempt in range(20):
                        try:
                            await conn.execute(
                                f"CALL refresh_continuous_aggregate('{rollup}', NULL,"
                                f" now() - interval '{end_offset}')"
                            )
                            break
                        except asyncpg.exceptions.LockNotAvailableError:
                            # Persistence's own refresh of the same window is running: the
                            # materialisation this wants is under way; ask again after it.
                            if attempt == 19:
                                raise
                            await asyncio.sleep(0.5)
        finally:
            await conn.close()

        ack = await nc.request(subjects.INGEST_METRICS, json.dumps(old).encode(), timeout=10)
        assert json.loads(ack.data) == {"accepted": len(old)}
    finally:
        await nc.drain()

    start, end = now - timedelta(days=3), now - timedelta(hours=3)
    for max_points, resolution in ((864, "5m"), (144, "30m"), (72, "1h")):

        async def counted(max_points: int = max_points) -> tuple[str, int] | None:
            answer = await bucket_counts(stack, "backfilled", start, end, max_points)
            return answer if answer[1] == len(old) else None

        answer = await eventually(counted, within_s=30)
        assert answer == (resolution, len(old)), await bucket_counts(
            stack, "backfilled", start, end, max_points
        )
