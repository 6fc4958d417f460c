"""Crashes and restarts lose nothing that was acknowledged, and duplicate nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import nats
import pytest
from pulse_contracts import Codec, SeriesBatch, subjects, to_epoch_us
from pulse_dev.embedded import free_port
from pulse_runtime.settings import CommonSettings
from pulse_runtime.streams import ensure_streams, pulse_streams

from tests.support.stack import (
    PulseStack,
    ServiceProcess,
    StoredPoint,
    bearer,
    create_api_key,
    eventually,
    stored_points,
    stored_rows,
)

pytestmark = pytest.mark.integration

MESSAGES = 400
POINTS_PER_MESSAGE = 10
SOURCES = 3  # each message holds points of three series: ingest stores three stream messages


def points(index: int, base: datetime) -> list[StoredPoint]:
    return [
        (
            f"unit{k % SOURCES}",
            base + timedelta(milliseconds=index * POINTS_PER_MESSAGE + k),
            float(index),
        )
        for k in range(POINTS_PER_MESSAGE)
    ]


def message(index: int, base: datetime) -> bytes:
    return json.dumps(
        [
            {"time": time.isoformat(), "source": source, "name": "crash_probe", "value": value}
            for source, time, value in points(index, base)
        ]
    ).encode()


def sent(indices: range, base: datetime) -> list[StoredPoint]:
    return sorted(point for index in indices for point in points(index, base))


async def test_persistence_sigkilled_mid_stream_stores_every_point_exactly_once(
    make_stack: Any, database_url: str
) -> None:
    stack: PulseStack = make_stack(
        PULSE_PERSISTENCE_ACK_WAIT_S="2", PULSE_PERSISTENCE_BATCH_SIZE="20"
    )
    stack.start(["persistence", "ingest"])
    base = datetime.now(UTC) - timedelta(hours=1)
    nc = await nats.connect(stack.nats_url)
    killed_at: int | None = None
    try:
        for index in range(MESSAGES):
            # request/reply: ingest answers once JetStream has stored the points.
            reply = await nc.request(subjects.INGEST_METRICS, message(index, base), timeout=10)
            assert json.loads(reply.data) == {"accepted": POINTS_PER_MESSAGE}
            if index == MESSAGES // 2:
                await eventually(lambda: _some_rows(database_url))
                stack["persistence"].kill()
                killed_at = await stored_rows(database_url, "crash_probe")
            if index % 25 == 0:
                await asyncio.sleep(0.02)  # a stream, not one burst
    finally:
        await nc.drain()
    assert killed_at is not None
    assert 0 < killed_at < MESSAGES * POINTS_PER_MESSAGE, "the kill was not mid-stream"

    stack["persistence"].start()
    stack["persistence"].wait_ready()
    expected = MESSAGES * POINTS_PER_MESSAGE

    async def all_stored() -> bool:
        total = await stored_rows(database_url, "crash_probe")
        return total >= expected

    await eventually(all_stored, within_s=60)
    assert await stored_points(database_url, "crash_probe") == sent(range(MESSAGES), base)


async def _some_rows(database_url: str) -> bool:
    return await stored_rows(database_url, "crash_probe") > 0


async def test_republished_points_are_stored_once(make_stack: Any, database_url: str) -> None:
    stack: PulseStack = make_stack()
    stack.start(["persistence", "ingest"])
    base, marker_base = datetime.now(UTC), datetime.now(UTC) + timedelta(seconds=1)
    payload = message(1, base)
    nc = await nats.connect(stack.nats_url)
    try:
        for _ in range(3):  # a producer retrying the same message
            reply = await nc.request(subjects.INGEST_METRICS, payload, timeout=10)
            assert json.loads(reply.data) == {"accepted": POINTS_PER_MESSAGE}
        marker = message(2, marker_base)
        await nc.request(subjects.INGEST_METRICS, marker, timeout=10)
        # JetStream itself dropped the repeats (ingest's Nats-Msg-Id within the duplicate
        # window): the stream holds the first message's series once, then the marker's.
        # Without the header it would hold 4 * SOURCES, and only the database's unique key
        # would hide the repeats below.
        metrics = await nc.jetstream().stream_info(subjects.METRICS_STREAM)
    finally:
        await nc.drain()
    assert metrics.state.messages == 2 * SOURCES

    async def marker_stored() -> bool:
        total = await stored_rows(database_url, "crash_probe")
        return total >= 2 * POINTS_PER_MESSAGE

    await eventually(marker_stored)
    assert await stored_points(database_url, "crash_probe") == sorted(
        points(1, base) + points(2, marker_base)
    )


async def test_valid_points_jetstream_cannot_store_are_answered_retryable_not_deadlettered(
    make_stack: Any,
) -> None:
    stack: PulseStack = make_stack()
    stack.start(["auth", "ingest", "gateway"])
    _, api_key = await create_api_key(stack, ["ingest:metrics"])
    payload = message(1, datetime.now(UTC))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        await js.delete_stream(subjects.METRICS_STREAM)  # nothing can store the points now
        failed = await nc.request(subjects.INGEST_METRICS, payload, timeout=10, headers=headers)
        async with httpx.AsyncClient(timeout=30) as client:
            posted = await client.post(
                stack["ingest"].url("/api/v1/metrics"),
                content=payload,
                headers={**bearer(api_key), "Content-Type": "application/json"},
            )
        deadlettered = (await js.stream_info(subjects.DEADLETTER_STREAM)).state.messages
        await ensure_streams(js, pulse_streams(CommonSettings()))  # the store is back
        retried = await nc.request(subjects.INGEST_METRICS, payload, timeout=10, headers=headers)
        stored = (await js.stream_info(subjects.METRICS_STREAM)).state.messages
    finally:
        await nc.drain()
    answer = json.loads(failed.data)
    assert answer == {"error": answer["error"], "retryable": True}  # not accepted
    assert answer["error"].startswith("not stored: ")
    assert (posted.status_code, posted.json()["code"]) == (503, "not_stored")
    assert posted.headers["Retry-After"] == "1"
    assert deadlettered == 0  # the points were fine: no dead letter
    assert json.loads(retried.data) == {"accepted": POINTS_PER_MESSAGE}
    assert stored == SOURCES
    lines = [json.loads(line) for line in stack["ingest"].output().splitlines() if line]
    errors = [line for line in lines if line["level"] == "error"]
    assert [line["event"] for line in errors] == ["message not stored", "points not stored"]
    assert errors[0]["trace_id"] == trace_id


async def test_every_service_reports_health_and_stops_cleanly_on_sigterm(
    make_stack: Any,
) -> None:
    stack: PulseStack = make_stack()
    names = ["persistence", "auth", "ingest", "gateway", "generator"]
    stack.start(names)
    async with httpx.AsyncClient() as client:
        for name in names:
            service = stack[name]
            assert (await client.get(service.url("/healthz"))).status_code == 200
            ready = await client.get(service.url("/readyz"))
            assert ready.status_code == 200
            assert all(ready.json()["checks"].values())
            metrics_port = service.env.get(f"PULSE_{name.upper()}_METRICS_PORT")
            metrics_url = (
                f"http://127.0.0.1:{metrics_port}/metrics"
                if metrics_port
                else service.url("/metrics")
            )
            if metrics_port:
                # The management listener beside the public port answers the probes too, and
                # is ready when the service is (the gateway's once said 503 forever).
                management = f"http://127.0.0.1:{metrics_port}"
                assert (await client.get(f"{management}/healthz")).status_code == 200
                probe = await client.get(f"{management}/readyz")
                assert probe.status_code == 200, (name, probe.text)
                assert all(probe.json()["checks"].values()), name
            scrape = await client.get(metrics_url)
            assert scrape.status_code == 200
            assert "faststream_received_messages_total" in scrape.text or name == "generator"
    assert stack.stop() == dict.fromkeys(reversed(names), 0)
    for name in names:
        lines = [json.loads(line) for line in stack[name].output().splitlines() if line]
        assert lines[-1]["event"] == "service stopped", name
        # A stop that hit the shutdown timeout logs an error: a graceful stop logs none.
        assert [line for line in lines if line["level"] in ("error", "critical")] == [], name
        assert all(line["service"] == name for line in lines), name


async def test_poison_messages_are_set_aside_and_the_stream_keeps_flowing(
    make_stack: Any, database_url: str
) -> None:
    stack: PulseStack = make_stack(PULSE_PERSISTENCE_BATCH_SIZE="10")
    stack.start(["persistence", "ingest"])
    codec = Codec()
    good_time = to_epoch_us(datetime.now(UTC))
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        await js.publish("metrics.poison.crash_probe", b"\xc1 not msgpack")
        await js.publish(
            "metrics.poison.crash_probe",
            codec.pack(
                SeriesBatch(source="poison", name="crash_probe", times_us=[1, 2], values=[1])
            ),
        )
        await js.publish(  # decodes fine, but no reader could turn that time into a date
            "metrics.poison.crash_probe",
            codec.pack(
                SeriesBatch(source="poison", name="crash_probe", times_us=[2**63 - 1], values=[1])
            ),
        )
        await js.publish(
            "metrics.good.crash_probe",
            codec.pack(
                SeriesBatch(source="good", name="crash_probe", times_us=[good_time], values=[4.0])
            ),
        )
        total = await eventually(lambda: _rows_total(database_url))
        sub = await js.pull_subscribe("deadletter.>", stream="DEADLETTER")
        letters = [codec.deadletter.decode(m.data) for m in await sub.fetch(3, timeout=10)]
    finally:
        await nc.drain()
    assert total == 1
    reasons = sorted(letter.reason.split(":")[0] for letter in letters)
    assert reasons == [
        "series batch has times outside years 1 to 9999",
        "series batch has unequal times_us and values",
        "undecodable series batch",
    ]
    assert {letter.origin for letter in letters} == {"metrics.poison.crash_probe"}


async def _rows_total(database_url: str) -> int:
    return await stored_rows(database_url, "crash_probe")


async def test_two_persistence_processes_share_the_stream_without_writing_twice(
    make_stack: Any, database_url: str
) -> None:
    stack: PulseStack = make_stack(PULSE_PERSISTENCE_BATCH_SIZE="5")
    stack.start(["persistence", "ingest"])
    second = ServiceProcess("persistence", stack["persistence"].env, stack.work_dir / "second")
    (stack.work_dir / "second").mkdir()
    second.env["PULSE_PERSISTENCE_PORT"] = str(free_port())
    second.port = int(second.env["PULSE_PERSISTENCE_PORT"])
    second.start()
    try:
        second.wait_ready()
        base = datetime.now(UTC) - timedelta(hours=2)
        nc = await nats.connect(stack.nats_url)
        try:
            for index in range(200):
                await nc.request(subjects.INGEST_METRICS, message(index, base), timeout=10)
        finally:
            await nc.drain()
        expected = 200 * POINTS_PER_MESSAGE

        async def all_stored() -> bool:
            total = await stored_rows(database_url, "crash_probe")
            return total >= expected

        assert await eventually(all_stored, within_s=60)
        assert await stored_points(database_url, "crash_probe") == sent(range(200), base)
        shares = [await _rows_written(service) for service in (stack["persistence"], second)]
    finally:
        assert second.terminate() == 0
    assert sum(shares) == expected
    assert all(share > 0 for share in shares), f"one process did all the work: {shares}"


async def _rows_written(service: ServiceProcess) -> int:
    async with httpx.AsyncClient() as client:
        text = (await client.get(service.url("/metrics"))).text
    [line] = [
        line
        for line in text.splitlines()
        if line.startswith("pulse_persistence_rows_written_total ")
    ]
    return int(float(line.split()[1]))


async def test_a_million_points_with_persistence_sigkilled_halfway_are_all_stored_once(
    make_stack: Any, database_url: str
) -> None:
    total_points, per_message = 1_000_000, 5_000
    stack: PulseStack = make_stack(PULSE_PERSISTENCE_ACK_WAIT_S="5", PULSE_LOG_LEVEL="warning")
    stack.start(["persistence", "ingest"])
    base = datetime(2025, 6, 1, tzinfo=UTC)
    encode = msgspec.msgpack.Encoder().encode
    messages = [
        encode(
            [
                {
                    "time": base + timedelta(milliseconds=i),
                    "source": f"m{i % 4}",
                    "name": "million",
                    "value": float(i),
                }
                for i in range(first, first + per_message)
            ]
        )
        for first in range(0, total_points, per_message)
    ]
    conn = await asyncpg.connect(database_url)
    nc = await nats.connect(stack.nats_url)
    slots = asyncio.Semaphore(8)

    async def send(message: bytes) -> None:
        async with slots:
            reply = await nc.request(
                subjects.INGEST_METRICS,
                message,
                timeout=60,
                headers={"Content-Type": "application/msgpack"},
            )
            assert json.loads(reply.data) == {"accepted": per_message}

    async def count() -> int:
        value = await conn.fetchval(
            "SELECT count(*) FROM metrics m JOIN series s ON s.id = m.series_id"
            " WHERE s.name = 'million'"
        )
        return int(value)

    try:
        sending = asyncio.gather(*(send(m) for m in messages))

        async def halfway() -> bool:
            return await count() >= total_points // 2

        assert await eventually(halfway, within_s=120, interval_s=0.05)
        stack["persistence"].kill()
        killed_at = await count()
        await sending  # every message was acknowledged by ingest: it is in JetStream
        stack["persistence"].start()

        async def all_stored() -> bool:
            return await count() >= total_points

        assert await eventually(all_stored, within_s=180, interval_s=0.5)
        # Point i was sent as (source m{i % 4}, base + i ms, value i). Rows that match that
        # rule have distinct values (the unique key forbids two at one series and time), so
        # total_points of them with whole values in [0, total_points) are exactly what was sent.
        stored = await conn.fetchrow(
            "SELECT count(*) AS total, min(m.value) AS low, max(m.value) AS high,"
            " count(*) FILTER (WHERE m.value = floor(m.value)"
            "  AND m.time = $1::timestamptz + m.value * interval '1 millisecond'"
            "  AND s.source = 'm' || (m.value::bigint % 4)) AS as_sent"
            " FROM metrics m JOIN series s ON s.id = m.series_id WHERE s.name = 'million'",
            base,
        )
        assert stored is not None
        assert dict(stored) == {
            "total": total_points,
            "as_sent": total_points,
            "low": 0.0,
            "high": float(total_points - 1),
        }
    finally:
        await nc.drain()
        await conn.close()
    assert total_points // 2 <= killed_at < total_points, "the kill was not halfway"
