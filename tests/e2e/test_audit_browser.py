"""The audit pages in a real browser against a real stack: from a failed request to its trace,
its task's failed step and the message it left in the dead-letter queue, replayed.

Debian's Chromium driven by ``playwright-core`` (services/dashboard/e2e/audit.e2e.mjs). This
test makes one story under one trace id: a request the gateway refuses (400, recorded by the
gateway's access log), a bulk import through ingest with a bad row in its second chunk (the
422 in ingest's access log, and its ``metrics_import`` task's steps up to the failed chunk), and
a message ingest refuses (a dead letter with bytes that are not text). An admin then opens Logs,
finds the request, watches the live tail show another one, follows the trace to its timeline
with the failed step highlighted, and replays the dead letter from the Dead letters page.
"""

from __future__ import annotations

import os
import secrets
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from pulse_contracts import subjects

from tests.support.browser import walk
from tests.support.stack import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    DASHBOARD_DIST,
    PulseStack,
    create_api_key,
    eventually,
)

DASHBOARD = DASHBOARD_DIST.parent
SCRIPT = DASHBOARD / "e2e" / "audit.e2e.mjs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCRIPT_TIMEOUT_S = 180
FAILING_PATH = "/api/v1/metrics?name=cpu&from=half-past-two"
REFUSED_BYTES = b'{"source": "lab-7", "name": "cpu", "value": "<script>alert(1)</script>"}\x00\xff'
AUDIT = "/api/v1/admin/audit"
CHUNK_ROWS = 50
BAD_LINE = 57
"""Line 1 is the header: lines 2-51 are chunk 1, 52-101 chunk 2 (the bad row), 102-121 chunk 3."""

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Chromium is not installed (make test installs it)"
    ),
    pytest.mark.timeout(SCRIPT_TIMEOUT_S + 120),
]


@pytest.fixture
async def pulse(make_stack: Any) -> PulseStack:
    if not (DASHBOARD_DIST / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make dashboard` (make test does)")
    if not (DASHBOARD / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core is not installed: run `make dashboard` (make test does)")
    stack: PulseStack = make_stack(PULSE_INGEST_IMPORT_CHUNK_ROWS=str(CHUNK_ROWS))
    stack.start(["persistence", "auth", "ingest", "gateway"])
    return stack


def traceparent(trace_id: str) -> str:
    return f"00-{trace_id}-{secrets.token_hex(8)}-01"


async def failing_request(pulse: PulseStack, trace_id: str) -> None:
    """A request the gateway refuses (400), in ``trace_id``."""
    async with httpx.AsyncClient() as client:
        response = await client.get(
            pulse["gateway"].url(FAILING_PATH),
            headers={
                "Authorization": f"Bearer {await pulse.token()}",
                "traceparent": traceparent(trace_id),
            },
        )
    assert response.status_code == 400, response.text
    assert response.headers["traceparent"].split("-")[1] == trace_id


async def failing_import(pulse: PulseStack, trace_id: str) -> None:
    """A bulk import whose second chunk has a bad row (line 57): refused with 422, its first
    chunk stored, its task's steps recorded by ingest up to the failed chunk."""
    _, key = await create_api_key(pulse, ["ingest:metrics"])
    start = datetime.now(UTC) - timedelta(hours=1)
    lines = ["time,source,name,value"]
    for row in range(120):
        value = "abc" if row + 2 == BAD_LINE else f"{row % 7}.5"
        lines.append(f"{(start + timedelta(seconds=row)).isoformat()},history,load,{value}")
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            pulse["ingest"].url("/api/v1/imports"),
            content="\n".join(lines).encode(),
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "text/csv",
                "traceparent": traceparent(trace_id),
            },
        )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "import_row_invalid"


async def audit_get(pulse: PulseStack, path: str, **params: Any) -> Any:
    async with httpx.AsyncClient() as client:
        response = await client.get(
            pulse["gateway"].url(f"{AUDIT}{path}"),
            params=params,
            headers={"Authorization": f"Bearer {await pulse.token()}"},
        )
    assert response.status_code in (200, 404), response.text
    return response.json() if response.status_code == 200 else None


async def test_an_admin_follows_a_failed_request_to_its_trace_and_replays_its_dead_letter(
    pulse: PulseStack, tmp_path: Path
) -> None:
    trace_id = secrets.token_hex(16)
    nc = await nats.connect(pulse.nats_url)
    try:
        await failing_request(pulse, trace_id)
        await failing_import(pulse, trace_id)
        await nc.publish(
            subjects.INGEST_METRICS, REFUSED_BYTES, headers={"traceparent": traceparent(trace_id)}
        )
        await nc.flush()
    finally:
        await nc.close()

    async def whole_story() -> Any:
        story = await audit_get(pulse, f"/traces/{trace_id}")
        kinds = [item["kind"] for item in story["items"]] if story else []
        complete = kinds.count("access") == 2 and kinds.count("step") == 5
        return story if complete and "dead_letter" in kinds else None

    story = await eventually(whole_story, within_s=30)
    assert story is not None, "the trace's records were not all stored"
    [letter] = [item["dead_letter"] for item in story["items"] if item["kind"] == "dead_letter"]

    screenshots = Path(os.environ.get("PULSE_SCREENSHOT_DIR", tmp_path))  # noqa: TID251 - where CI keeps artifacts
    env = {
        **os.environ,  # noqa: TID251 - PATH for node
        "PULSE_URL": pulse["gateway"].url("/"),
        "PULSE_EMAIL": ADMIN_EMAIL,
        "PULSE_PASSWORD": ADMIN_PASSWORD,
        "PULSE_TRACE": trace_id,
        "PULSE_LETTER": str(letter["id"]),
        "PULSE_SCREENSHOTS": str(screenshots),
        "CHROMIUM": CHROMIUM,
    }
    live_traces: list[str] = []

    async def answer(line: str) -> str | None:
        if line != "PULSE:make-request":
            return None
        live_trace = secrets.token_hex(16)
        await failing_request(pulse, live_trace)
        live_traces.append(live_trace)
        return f"PULSE:requested {live_trace}"

    code, transcript = await walk(SCRIPT, env, answer, timeout_s=SCRIPT_TIMEOUT_S)
    output = "\n".join(transcript)
    assert code == 0, f"the browser walk failed:\n{output}"
    assert "PULSE:passed" in transcript, output
    assert len(live_traces) == 1, output
    for name in ("logs.png", "trace.png", "deadletters.png"):
        assert (screenshots / name).is_file(), name

    # The replay the admin confirmed: the letter is replayed (once), by them.
    shown = await audit_get(pulse, f"/dead-letters/{letter['id']}")
    assert shown["letter"]["status"] == "replayed"
    assert shown["letter"]["replays"] == 1
    assert shown["letter"]["replayed_by"]
