from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import Counter
from pulse_runtime.health import HealthListener
from pulse_runtime.telemetry import new_registry

# A request still being answered when the listener stops must end on its own loop, not when
# its coroutine is collected after that loop closed (it used to, as an "exception ignored").
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

Listener = tuple[HealthListener, dict[str, bool]]


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    state = {"nats": True}
    registry = new_registry()
    Counter("pulse_test_things_total", "things", registry=registry).inc(3)

    async def readiness() -> dict[str, bool]:
        return dict(state)

    server = HealthListener(host="127.0.0.1", port=0, readiness=readiness, registry=registry)
    await server.start()
    server.mark_started()
    yield server, state
    await server.stop()


async def test_liveness_readiness_and_metrics(listener: Listener) -> None:
    server, state = listener
    base = f"http://127.0.0.1:{server.port}"
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert (ready.status_code, ready.json()) == (
            200,
            {"status": "ready", "checks": {"started": True, "event_loop": True, "nats": True}},
        )
        state["nats"] = False
        not_ready = await client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"] == {"started": True, "event_loop": True, "nats": False}
        metrics = await client.get("/metrics")
        assert "pulse_test_things_total 3.0" in metrics.text
        assert (await client.get("/nope")).status_code == 404
        assert (await client.post("/healthz")).status_code == 405


async def test_not_ready_until_the_service_has_started() -> None:
    async def readiness() -> dict[str, bool]:
        return {"nats": True}

    server = HealthListener(host="127.0.0.1", port=0, readiness=readiness, registry=new_registry())
    await server.start()
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{server.port}/readyz")
    finally:
        await server.stop()
    assert response.status_code == 503
    assert response.json()["checks"] == {"started": False, "event_loop": True, "nats": True}


async def test_a_silent_client_does_not_block_others(listener: Listener) -> None:
    server, _ = listener
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)  # says nothing
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{server.port}/healthz")
    assert response.status_code == 200
    writer.close()


def _get_from_a_thread(url: str, answers: list[tuple[int, bytes]]) -> threading.Thread:
    def get() -> None:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                answers.append((response.status, response.read()))
        except urllib.error.HTTPError as exc:
            answers.append((exc.code, exc.read()))

    thread = threading.Thread(target=get)
    thread.start()
    return thread


@pytest.mark.parametrize("path", ["/healthz", "/metrics"])
async def test_probes_and_scrapes_are_answered_while_the_service_loop_is_blocked(
    listener: Listener,
    path: str,
) -> None:
    server, _ = listener
    answers: list[tuple[int, bytes]] = []
    thread = _get_from_a_thread(f"http://127.0.0.1:{server.port}{path}", answers)
    deadline = time.monotonic() + 10
    while not answers and time.monotonic() < deadline:
        time.sleep(0.01)  # noqa: ASYNC251 - blocks the loop, as a storm of handshakes would
    thread.join()
    assert answers, "no answer while the service's loop was blocked"
    assert answers[0][0] == 200


async def test_readiness_of_a_blocked_loop_is_its_last_answer_then_not_ready(
    listener: Listener,
) -> None:
    server, _ = listener
    url = f"http://127.0.0.1:{server.port}/readyz"
    answers: list[tuple[int, bytes]] = []
    thread = _get_from_a_thread(url, answers)
    thread.join()  # blocks the loop: the check cannot run, and there is no earlier answer
    assert answers[0][0] == 503
    assert b'"event_loop":false' in answers[0][1]
    async with httpx.AsyncClient() as client:
        assert (await client.get(url)).status_code == 200  # the loop answers: remembered
    answers.clear()
    thread = _get_from_a_thread(url, answers)
    thread.join()  # blocked again, but the last answer is fresh
    assert answers[0][0] == 200
    assert b'"event_loop":true' in answers[0][1]
