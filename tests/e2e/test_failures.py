"""Infrastructure failures: PostgreSQL or NATS going away under load, and coming back.

No service is restarted in these tests: each must ride out the outage of a server it depends
on, report it on ``/readyz``, and resume on its own, losing and duplicating nothing that a
producer was told was accepted.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import nats
import nats.errors
import pytest
import websockets
from nats.aio.client import Client
from pulse_contracts import subjects
from pulse_dev.embedded import EmbeddedPostgres

from tests.support.stack import (
    PulseStack,
    StoredPoint,
    bearer,
    create_database,
    eventually,
    stored_points,
    stored_rows,
)

pytestmark = pytest.mark.integration

PROBE = "outage_probe"
POINTS_PER_REQUEST = 10
PUBLISH_INTERVAL_S = 0.05
OUTAGE_S = 30.0
AFTER_OUTAGE_S = 5.0
TIMEOUT_S = 60.0
RETRY_DELAY_S = 2.0
# asyncpg's pool (0.32+) keeps reconnecting to its min_size in the background, and logs each
# failed attempt as a warning with the connection error's traceback.
POOL_FLOOR_WARNING = "Failed to restore the pool connection floor; retrying"
CONNECTION_FAILURES = (
    "ConnectionRefusedError:",
    "ConnectionResetError:",
    "asyncpg.exceptions.CannotConnectNowError:",
)


class SteadyProducer:
    """Publishes ``POINTS_PER_REQUEST`` points every ``PUBLISH_INTERVAL_S`` with request/reply.

    A point counts as acknowledged once ingest answered ``{"accepted": n}`` (JetStream stored
    it). A request that got no answer is retried with the same bytes until it is answered:
    ingest's content-derived ``Nats-Msg-Id`` and the database's unique key make that safe, so
    every point sent is acknowledged exactly once and the expected row count is exact.
    """

    def __init__(self, nc: Client, base: datetime) -> None:
        self._nc = nc
        self._base = base
        self._stopping = asyncio.Event()
        self.acknowledged = 0
        self.retries = 0

    def payload(self, index: int) -> bytes:
        return json.dumps(
            [
                {
                    # Unique per point: one millisecond apart across every request.
                    "time": (
                        self._base + timedelta(milliseconds=index * POINTS_PER_REQUEST + k)
                    ).isoformat(),
                    "source": f"unit{k % 2}",
                    "name": PROBE,
                    "value": float(index),
                }
                for k in range(POINTS_PER_REQUEST)
            ]
        ).encode()

    def sent(self, count: int) -> list[StoredPoint]:
        """The first ``count`` points of :meth:`payload`'s sequence as stored, sorted."""
        return sorted(
            (
                f"unit{n % POINTS_PER_REQUEST % 2}",
                self._base + timedelta(milliseconds=n),
                float(n // POINTS_PER_REQUEST),
            )
            for n in range(count)
        )

    async def run(self) -> None:
        index = 0
        while not self._stopping.is_set():
            await self._send(self.payload(index))
            self.acknowledged += POINTS_PER_REQUEST
            index += 1
            await asyncio.sleep(PUBLISH_INTERVAL_S)

    async def _send(self, payload: bytes) -> None:
        for _ in range(10):
            try:
                reply = await self._nc.request(subjects.INGEST_METRICS, payload, timeout=10)
            except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
                self.retries += 1
                await asyncio.sleep(0.5)
                continue
            assert json.loads(reply.data) == {"accepted": POINTS_PER_REQUEST}, reply.data
            return
        raise AssertionError("ingest did not acknowledge a request in 10 attempts")

    def stop(self) -> None:
        self._stopping.set()


async def readyz(client: httpx.AsyncClient, url: str) -> tuple[int, dict[str, Any]]:
    try:
        response = await client.get(url, timeout=5)
    except httpx.HTTPError as exc:  # recorded, so a failure says what the probe saw
        return 0, {"error": repr(exc)}
    body: dict[str, Any] = response.json()
    return response.status_code, body


def log_lines(stack: PulseStack, name: str) -> list[dict[str, Any]]:
    """Every line of a service's log, which must all be JSON (a bare traceback is not)."""
    text = stack[name].log_path.read_text(errors="replace")
    lines = []
    for line in text.splitlines():
        if line.strip():
            try:
                lines.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"{name} wrote a non-JSON line: {line!r}") from None
    return lines


def is_redelivery_warning(line: dict[str, Any]) -> bool:
    """Persistence's own word that a batch failed to be written and was nacked."""
    return (
        line.get("logger") == "pulse_persistence.stream_batches" and "redelivered" in line["event"]
    )


def expected_outage_warning(line: dict[str, Any]) -> bool:
    """What persistence may log while its database is away: these warnings, nothing worse."""
    if line["level"] != "warning":
        return False
    if is_redelivery_warning(line):
        return "exception" not in line
    if line.get("logger") == "asyncpg.pool" and line["event"] == POOL_FLOOR_WARNING:
        cause = str(line.get("exception", "")).strip().splitlines()[-1:]
        return bool(cause) and cause[0].startswith(CONNECTION_FAILURES)
    return False


def persistence_failures_counted(scrape: str) -> float:
    for line in scrape.splitlines():
        if line.startswith("pulse_persistence_write_failures_total "):
            return float(line.split()[1])
    raise AssertionError("pulse_persistence_write_failures_total not exported")


def stream_gauge(scrape: str, name: str, stream: str) -> float:
    prefix = f'{name}{{stream="{stream}"}} '
    for line in scrape.splitlines():
        if line.startswith(prefix):
            return float(line.removeprefix(prefix))
    raise AssertionError(f"{name} for {stream} not exported")


async def test_postgres_stopped_for_30_s_under_steady_ingest_loses_and_duplicates_nothing(
    tmp_path: Any,
) -> None:
    # A PostgreSQL server of this test's own: stopping it must not disturb other tests.
    postgres = EmbeddedPostgres(tmp_path / "postgres")
    await asyncio.to_thread(postgres.start)
    stack: PulseStack | None = None
    try:
        database_url = await create_database(postgres.url)
        stack = PulseStack(
            tmp_path / "stack",
            database_url,
            {"PULSE_PERSISTENCE_RETRY_DELAY_S": str(RETRY_DELAY_S)},
        )
        stack.start(["persistence", "ingest"])
        persistence = stack["persistence"]
        assert persistence.process is not None
        persistence_pid = persistence.process.pid
        ready_url = persistence.url("/readyz")

        nc = await nats.connect(stack.nats_url)
        producer = SteadyProducer(nc, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
        producing = asyncio.create_task(producer.run())
        try:
            async with httpx.AsyncClient() as client:

                async def some_rows_stored() -> int:
                    assert not producing.done(), "the producer stopped"
                    return await stored_rows(database_url, PROBE)

                assert await eventually(some_rows_stored, within_s=TIMEOUT_S)
                status, body = await readyz(client, ready_url)
                assert status == 200, body

                await asyncio.to_thread(postgres.stop)
                outage_started = time.monotonic()
                acknowledged_at_stop = producer.acknowledged

                async def not_ready() -> tuple[int, dict[str, Any]] | None:
                    status, body = await readyz(client, ready_url)
                    return (status, body) if status == 503 else None

                first = await eventually(not_ready, within_s=20, interval_s=0.25)
                assert first is not None, "persistence stayed ready with its database stopped"
                probes = [first]
                while time.monotonic() - outage_started < OUTAGE_S:
                    probes.append(await readyz(client, ready_url))
                    assert not producing.done(), "the producer stopped"
                    await asyncio.sleep(0.5)
                # Every probe during the outage: not ready, because of the database alone.
                for status, body in probes:
                    assert status == 503, body
                    assert body["checks"]["database"] is False, body
                    assert body["checks"]["nats"] is True, body
                assert persistence.process.poll() is None, persistence.output()
                assert producer.acknowledged > acknowledged_at_stop, "ingest stalled"
                scrape = (await client.get(persistence.url("/metrics"))).text
                failures = persistence_failures_counted(scrape)
                away_s = time.monotonic() - outage_started
                assert failures > 0, "no batch was nacked"
                # After a failed attempt each writer waits the retry delay, rather than
                # trying (and logging) again at once for every message arriving meanwhile
                # (~100 attempts a second here). A bound generous enough for several writers;
                # a slower machine only makes fewer attempts.
                assert failures <= 10 * (away_s / RETRY_DELAY_S + 1), (failures, away_s)
                # The lag shows: what it fetched again had waited in the stream since the stop.
                assert stream_gauge(scrape, "pulse_persistence_lag_seconds", "METRICS") > 0

                await asyncio.to_thread(postgres.start)  # same port, same data

                async def ready() -> tuple[int, dict[str, Any]] | None:
                    status, body = await readyz(client, ready_url)
                    return (status, body) if status == 200 else None

                back = await eventually(ready, within_s=TIMEOUT_S, interval_s=0.25)
                assert back is not None, await readyz(client, ready_url)
                assert all(back[1]["checks"].values()), back
                await asyncio.sleep(AFTER_OUTAGE_S)  # and a few seconds of normal flow
        finally:
            producer.stop()
            try:
                await asyncio.wait_for(producing, TIMEOUT_S)
            finally:
                await nc.drain()

        expected = producer.acknowledged
        assert expected > 0

        async def all_stored() -> bool:
            total = await stored_rows(database_url, PROBE)
            return total >= expected

        await eventually(all_stored, within_s=TIMEOUT_S, interval_s=0.5)
        assert await stored_points(database_url, PROBE) == producer.sent(expected)
        async with httpx.AsyncClient() as client:
            scrape = (await client.get(persistence.url("/metrics"))).text
        assert stream_gauge(scrape, "pulse_persistence_stream_pending", "METRICS") == 0

        # The same process rode the outage out: never restarted, still healthy, and its log
        # holds the expected warnings but no error, no traceback and no other complaint.
        assert persistence.process.poll() is None
        assert persistence.process.pid == persistence_pid
        lines = log_lines(stack, "persistence")
        problems = [
            line
            for line in lines
            if (line["level"] not in ("debug", "info") or "exception" in line)
            and not expected_outage_warning(line)
        ]
        assert problems == [], problems
        assert any(is_redelivery_warning(line) for line in lines)
        assert stack.stop() == {"ingest": 0, "persistence": 0}
    finally:
        if stack is not None:
            stack.stop()
        await asyncio.to_thread(postgres.stop)


SERVICES = ["persistence", "auth", "ingest", "gateway", "generator"]
NATS_OUTAGE_S = 5.0


async def cpu_rows_after(database_url: str, moment: datetime) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM metrics m JOIN series s ON s.id = m.series_id"
            " WHERE s.name = 'cpu' AND m.time > $1",
            moment,
        )
    finally:
        await conn.close()
    return count


async def frame_after(socket: Any, moment: datetime, within_s: float) -> dict[str, Any]:
    """The first cpu frame stamped after ``moment`` (older buffered frames are skipped)."""
    deadline = time.monotonic() + within_s
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no live frame stamped after {moment.isoformat()}"
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), remaining))
        assert frame["type"] == "cpu", frame
        if datetime.fromisoformat(frame["timestamp"]) > moment:
            return frame


async def test_nats_restart_is_ridden_out_by_every_service(
    make_stack: Any, database_url: str
) -> None:
    stack: PulseStack = make_stack(PULSE_GENERATOR_RATE_HZ="10")
    stack.start(SERVICES)
    started_at = datetime.now(UTC)
    pids = {name: stack[name].process.pid for name in SERVICES}  # type: ignore[union-attr]
    ws_url = stack["gateway"].url("/ws/metrics?type=cpu").replace("http://", "ws://")
    token = await stack.token()

    async def statuses(client: httpx.AsyncClient) -> dict[str, tuple[int, dict[str, Any]]]:
        probes = await asyncio.gather(*(readyz(client, stack[n].url("/readyz")) for n in SERVICES))
        return dict(zip(SERVICES, probes, strict=True))

    async with httpx.AsyncClient() as client:
        flowing = await eventually(
            lambda: cpu_rows_after(database_url, started_at), within_s=TIMEOUT_S
        )
        assert flowing, "no cpu rows before the restart"

        # A client watching before the restart: its gateway subscription must survive it.
        async with websockets.connect(ws_url) as early:
            await early.send(json.dumps({"type": "auth", "token": token}))
            await frame_after(early, started_at, within_s=TIMEOUT_S)

            await asyncio.to_thread(stack.nats.stop)

            async def none_ready() -> dict[str, tuple[int, dict[str, Any]]] | None:
                seen = await statuses(client)
                return seen if all(s != 200 for s, _ in seen.values()) else None

            # Every service noticed: not ready, because of NATS.
            during = await eventually(none_ready, within_s=TIMEOUT_S, interval_s=0.25)
            assert during is not None, await statuses(client)
            for name, (status, body) in during.items():
                assert status == 503, (name, body)
                assert body["checks"]["nats"] is False, (name, body)
            # Down long enough for pulls, publishes and reconnect attempts to fail meanwhile.
            await asyncio.sleep(NATS_OUTAGE_S)
            assert await none_ready(), await statuses(client)

            await asyncio.to_thread(stack.nats.start)  # same port, same JetStream store
            restarted_at = datetime.now(UTC)

            async def all_ready() -> dict[str, tuple[int, dict[str, Any]]] | None:
                seen = await statuses(client)
                return seen if all(s == 200 for s, _ in seen.values()) else None

            assert await eventually(all_ready, within_s=TIMEOUT_S, interval_s=0.25), await statuses(
                client
            )
            early_frame = await frame_after(early, restarted_at, within_s=TIMEOUT_S)

        # New points reach the database through ingest, JetStream and the pull consumer ...
        stored = await eventually(
            lambda: cpu_rows_after(database_url, restarted_at), within_s=TIMEOUT_S
        )
        assert stored, "no cpu point stored after the restart"

        # ... come back from the gateway's REST history ...
        async def history_after() -> list[dict[str, Any]]:
            response = await client.get(
                stack["gateway"].url("/api/v1/metrics"),
                params={"type": "cpu", "from": restarted_at.isoformat()},
                headers=bearer(token),
            )
            assert response.status_code == 200, response.text
            series: list[dict[str, Any]] = response.json()["series"]
            return series

        series = await eventually(history_after, within_s=TIMEOUT_S)
        assert series, "no cpu point from history after the restart"
        assert all(datetime.fromisoformat(p["timestamp"]) >= restarted_at for p in series)
        assert {p["type"] for p in series} == {"cpu"}

        # ... and stream live to a client that connects after the restart.
        async with websockets.connect(ws_url) as late:
            await late.send(json.dumps({"type": "auth", "token": token}))
            late_frame = await frame_after(late, restarted_at, within_s=TIMEOUT_S)

    assert early_frame["source"] == late_frame["source"] == "sim"
    # Nothing was restarted to get there.
    for name in SERVICES:
        process = stack[name].process
        assert process is not None
        assert process.poll() is None, stack[name].output()
        assert process.pid == pids[name]
    assert stack.stop() == dict.fromkeys(reversed(SERVICES), 0)
