"""History answers as large as the docs promise, whatever NATS's max_payload (ADR 12).

`GET /api/v1/metrics` answers up to 100,000 raw points and refuses more with 400
`too_many_points`. Persistence's answer to that many points is several MB, more than one NATS
message (1 MiB by default, and a deployment may set less): it travels in parts.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import nats
import pytest
from pulse_contracts import Codec, MetricsQuery, RpcError, subjects
from pulse_dev.embedded import free_port

from tests.support.stack import (
    PulseStack,
    ServiceProcess,
    StoredPoint,
    bearer,
    eventually,
    stored_points,
    stored_rows,
)

pytestmark = pytest.mark.integration

LIMIT = 100_000  # PULSE_GATEWAY_MAX_QUERY_POINTS and PULSE_PERSISTENCE_MAX_QUERY_POINTS
NAME = "bulk"
SOURCES = ("alpha", "beta", "gamma")
BASE = datetime(2026, 3, 1, tzinfo=UTC)
SMALL_PAYLOAD = 64 * 1024
POINTS_PER_MESSAGE = 500  # a producer message must fit the small max_payload too
ONE_US = timedelta(microseconds=1)


def generated(count: int) -> list[StoredPoint]:
    """``count`` points in the order history answers them (time, then source): microsecond
    times, some shared by two or three sources, values using every bit of a float64."""
    rng = random.Random(12)
    points: list[StoredPoint] = []
    micros = 0
    while len(points) < count:
        micros += rng.randint(1, 1_500_000)
        moment = BASE + timedelta(microseconds=micros)
        for source in sorted(rng.sample(SOURCES, rng.randint(1, 3))):
            points.append((source, moment, rng.uniform(-1e6, 1e6)))
    return points[:count]


async def ingest(stack: PulseStack, points: list[StoredPoint]) -> None:
    """Send ``points`` through ingest (msgpack) and wait until persistence stored them all."""
    encode = msgspec.msgpack.Encoder().encode
    nc = await nats.connect(stack.nats_url)
    slots = asyncio.Semaphore(8)

    async def send(batch: list[StoredPoint]) -> None:
        body = [{"time": t, "source": s, "name": NAME, "value": v} for s, t, v in batch]
        async with slots:
            reply = await nc.request(
                subjects.INGEST_METRICS,
                encode(body),
                timeout=30,
                headers={"Content-Type": "application/msgpack"},
            )
        assert json.loads(reply.data) == {"accepted": len(batch)}

    try:
        await asyncio.gather(
            *(
                send(points[first : first + POINTS_PER_MESSAGE])
                for first in range(0, len(points), POINTS_PER_MESSAGE)
            )
        )
    finally:
        await nc.drain()

    async def all_stored() -> bool:
        return await stored_rows(stack.database_url, NAME) == len(points)

    assert await eventually(all_stored, within_s=180, interval_s=1), "not all points stored"


async def history(
    stack: PulseStack, start: datetime, end: datetime, **params: str
) -> httpx.Response:
    async with httpx.AsyncClient(headers=bearer(await stack.token()), timeout=60) as client:
        return await client.get(
            stack["gateway"].url("/api/v1/metrics"),
            params={"name": NAME, "from": start.isoformat(), "to": end.isoformat(), **params},
        )


def answered_points(response: httpx.Response) -> list[StoredPoint]:
    assert response.status_code == 200, response.text[:500]
    body = response.json()
    assert body["resolution"] == "raw"
    return [
        (p["source"], datetime.fromisoformat(p["timestamp"]), p["value"]) for p in body["series"]
    ]


async def stack_with(
    make_stack: Any, points: list[StoredPoint], nats_max_payload: int | None = None
) -> PulseStack:
    stack: PulseStack = make_stack(nats_max_payload=nats_max_payload, PULSE_LOG_LEVEL="warning")
    stack.start(["persistence", "auth", "ingest", "gateway"])
    await ingest(stack, points)
    stored = await stored_points(stack.database_url, NAME)
    assert stored == sorted(points), "persistence did not store exactly what was sent"
    return stack


async def test_the_limit_of_raw_points_comes_back_whole_and_one_more_is_400(
    make_stack: Any,
) -> None:
    points = generated(LIMIT)
    extra = ("alpha", points[-1][1] + ONE_US, 0.5)  # the 100,001st point, later than all
    stack = await stack_with(make_stack, [*points, extra])

    # [from, to) holds exactly LIMIT points: all of them, in order, exactly as stored.
    at_limit = await history(stack, BASE, extra[1])
    assert answered_points(at_limit) == points

    over = await history(stack, BASE, extra[1] + ONE_US)
    assert over.status_code == 400, over.text[:500]
    assert over.json()["code"] == "too_many_points"

    # A gateway from before answers in parts (its query has no `part_bytes`) gets a prompt,
    # clear refusal instead of waiting for its timeout.
    codec = Codec()
    nc = await nats.connect(stack.nats_url)
    try:
        query = MetricsQuery(name=NAME, start=BASE, end=extra[1], limit=LIMIT)
        reply = await nc.request(subjects.RPC_QUERY_METRICS, codec.pack(query), timeout=10)
    finally:
        await nc.drain()
    refusal = codec.metrics_query_reply.decode(reply.data)
    assert isinstance(refusal, RpcError)
    assert refusal.code == "history_too_large"


async def test_a_small_max_payload_and_two_persistence_replicas_still_answer_the_limit(
    make_stack: Any,
) -> None:
    points = generated(LIMIT)
    extra = ("beta", points[-1][1] + ONE_US, -0.25)
    stack = await stack_with(make_stack, [*points, extra], nats_max_payload=SMALL_PAYLOAD)
    first = stack["persistence"]

    assert answered_points(await history(stack, BASE, extra[1])) == points
    parts_of_one_answer = await parts_sent(first)
    assert parts_of_one_answer >= 30  # about 2.6 MB in messages of at most 64 KiB

    # A second replica joins the queue group: each request is still answered by one of them,
    # whole (two answering would double the parts and interleave them).
    (stack.work_dir / "second").mkdir()
    second = ServiceProcess("persistence", first.env, stack.work_dir / "second")
    second.env["PULSE_PERSISTENCE_PORT"] = str(free_port())
    second.port = int(second.env["PULSE_PERSISTENCE_PORT"])
    second.start()
    try:
        second.wait_ready()
        answers = await asyncio.gather(*(history(stack, BASE, extra[1]) for _ in range(4)))
        for answer in answers:
            assert answered_points(answer) == points
        assert await parts_sent(first) + await parts_sent(second) == 5 * parts_of_one_answer
    finally:
        second.terminate()

    over = await history(stack, BASE, extra[1] + ONE_US)
    assert over.status_code == 400, over.text[:500]
    assert over.json()["code"] == "too_many_points"

    # Bucketed answers take the same way: about 50,000 buckets here.
    bucketed = await history(stack, BASE, extra[1] + ONE_US, max_points="20000")
    assert bucketed.status_code == 200, bucketed.text[:500]
    body = bucketed.json()
    width_us = body["bucket_seconds"] * 1_000_000
    assert (body["resolution"], width_us) == ("2s", 2_000_000)
    expected = buckets_of([*points, extra], width_us)
    assert len(body["series"]) == len(expected) > 40_000
    for row, (source, start, low, high, count, mean) in zip(body["series"], expected, strict=True):
        assert (row["source"], datetime.fromisoformat(row["timestamp"])) == (source, start)
        assert (row["min"], row["max"], row["count"]) == (low, high, count)
        assert row["avg"] == pytest.approx(mean, rel=1e-9, abs=1e-6)


def buckets_of(
    points: list[StoredPoint], width_us: int
) -> list[tuple[str, datetime, float, float, int, float]]:
    """Buckets aligned to the epoch, in (bucket, source) order, as persistence answers them."""
    grouped: dict[tuple[datetime, str], list[float]] = {}
    for source, moment, value in points:
        micros = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // ONE_US
        start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
            microseconds=micros - micros % width_us
        )
        grouped.setdefault((start, source), []).append(value)
    return [
        (source, start, min(values), max(values), len(values), sum(values) / len(values))
        for (start, source), values in sorted(grouped.items())
    ]


async def parts_sent(service: ServiceProcess) -> int:
    """Messages this persistence sent as parts of answers (its Prometheus counter)."""
    async with httpx.AsyncClient() as client:
        text = (await client.get(service.url("/metrics"))).text
    for line in text.splitlines():
        if line.startswith("pulse_persistence_reply_parts_total "):
            return int(float(line.split()[1]))
    return 0
