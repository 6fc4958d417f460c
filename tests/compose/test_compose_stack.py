"""compose.yaml run for real (`make test-compose`): the whole platform up on a 3-node NATS
cluster with R3 streams, a point put in through ingest's HTTP API and read back through the
gateway's history API, then persistence and the gateway scaled to two replicas each and the
same walk through both gateways, then everything down.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest

from .conftest import progress, timed
from .project import ADMIN_EMAIL, ComposeProject

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]

T = TypeVar("T")
PULSE_SERVICES = ["generator", "ingest", "persistence", "gateway", "auth", "notifier", "alerts"]
STREAMS = {"METRICS", "EVENTS", "DEADLETTER", "NOTIFICATIONS", "LOGS"}
UP_TIMEOUT_S = 420


def eventually(check: Callable[[], T | None], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result is not None:
                return result
        except (httpx.HTTPError, AssertionError) as exc:
            last = exc
        time.sleep(1)
    raise AssertionError(f"{what}: not within {timeout_s:.0f} s (last: {last!r})")


def up(project: ComposeProject, *scale: str) -> None:
    try:
        project.run(
            "up",
            "--detach",
            "--wait",
            "--wait-timeout",
            str(UP_TIMEOUT_S),
            "--no-build",
            "--pull",
            "never",
            *scale,
            timeout=UP_TIMEOUT_S + 60,
        )
    except RuntimeError:
        progress("up failed; the services' last log lines:\n" + project.logs())
        raise


def login(base_url: str, password: str) -> str:
    response = httpx.post(
        f"{base_url}/api/v1/auth/login",
        json={"email": ADMIN_EMAIL, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def send_point(ingest_url: str, api_key: str, name: str, value: float, moment: datetime) -> None:
    response = httpx.post(
        f"{ingest_url}/api/v1/metrics",
        headers={"Authorization": f"Bearer {api_key}"},
        json={"time": moment.isoformat(), "source": "compose", "name": name, "value": value},
        timeout=30,
    )
    assert response.status_code == 202, response.text


def stored_values(gateway_url: str, token: str, name: str, since: datetime) -> list[float]:
    response = httpx.get(
        f"{gateway_url}/api/v1/metrics",
        params={"name": name, "from": since.isoformat()},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return [point["value"] for point in response.json()["series"]]


def await_history(gateway_url: str, token: str, since: datetime, values: list[float]) -> None:
    """Until the gateway's history of compose_probe holds exactly ``values`` (60 s at most)."""

    def stored() -> bool | None:
        return sorted(stored_values(gateway_url, token, "compose_probe", since)) == values or None

    eventually(stored, 60, f"{values} in {gateway_url}'s history")


def streams_on_the_cluster(project: ComposeProject) -> dict[str, dict[str, Any]]:
    """{stream: its JetStream detail} as nats-1's monitoring port reports it."""
    text = project.run(
        "exec",
        "-T",
        "nats-1",
        "wget",
        "-q",
        "-O",
        "-",
        "http://127.0.0.1:8222/jsz?streams=true&config=true",
        timeout=60,
    )
    details: dict[str, dict[str, Any]] = {}
    for account in json.loads(text).get("account_details", []):
        for stream in account.get("stream_detail", []):
            details[stream["name"]] = stream
    return details


def running(project: ComposeProject, service: str) -> list[dict[str, Any]]:
    return [c for c in project.containers(service) if c.get("State") == "running"]


def test_compose_runs_pulse_on_a_nats_cluster_and_scales(built: ComposeProject) -> None:
    project = built

    progress("docker compose up --wait (3 NATS nodes, the database, migrations, 7 services)")
    with timed("up --wait"):
        up(project)
    for service in ["nats-1", "nats-2", "nats-3", "db", *PULSE_SERVICES]:
        assert len(running(project, service)) == 1, service

    gateway_1 = f"http://127.0.0.1:{project.host_port('gateway', 8000, 1)}"
    ingest = f"http://127.0.0.1:{project.host_port('ingest', 8001, 1)}"
    token = login(gateway_1, project.admin_password)
    key = httpx.post(
        f"{gateway_1}/api/v1/admin/api-keys",
        headers={"Authorization": f"Bearer {token}"},
        json={"name": "compose test", "scopes": ["ingest:metrics"]},
        timeout=30,
    )
    assert key.status_code == 201, key.text
    api_key: str = key.json()["secret"]
    # The gateway's image serves the dashboard (built in); the others have none.
    page = httpx.get(f"{gateway_1}/", timeout=30)
    assert page.status_code == 200
    assert '<div id="root">' in page.text, page.text[:300]

    since = datetime.now(UTC) - timedelta(minutes=1)
    with timed("point in (ingest) and out (gateway history)"):
        send_point(ingest, api_key, "compose_probe", 1.5, datetime.now(UTC))
        await_history(gateway_1, token, since, [1.5])

    streams = streams_on_the_cluster(project)
    assert set(streams) >= STREAMS, sorted(streams)
    for name in STREAMS:
        assert streams[name]["config"]["num_replicas"] == 3, name
        assert len(streams[name]["cluster"].get("replicas", [])) == 2, streams[name]["cluster"]
    progress(f"streams R3: {sorted(STREAMS)}")

    progress("docker compose up --wait --scale persistence=2 --scale gateway=2")
    with timed("up --wait --scale persistence=2 --scale gateway=2"):
        up(project, "--scale", "persistence=2", "--scale", "gateway=2")
    assert len(running(project, "persistence")) == 2
    assert len(running(project, "gateway")) == 2
    gateways = [f"http://127.0.0.1:{project.host_port('gateway', 8000, i)}" for i in (1, 2)]
    assert gateways[0] != gateways[1]

    with timed("points through both gateways"):
        send_point(ingest, api_key, "compose_probe", 2.0, datetime.now(UTC))
        send_point(ingest, api_key, "compose_probe", 3.0, datetime.now(UTC))
        for gateway in gateways:
            await_history(gateway, login(gateway, project.admin_password), since, [1.5, 2.0, 3.0])
    progress("both gateways answer with all three points")
