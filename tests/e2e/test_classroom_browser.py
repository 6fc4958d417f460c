"""The classroom pages in a real browser against a real stack.

Debian's Chromium driven by ``playwright-core`` (services/dashboard/e2e/classroom.e2e.mjs): an
instructor logs in, creates a class (its key shown once, with the notebook snippet), opens its
page; this test posts three students' cell executions to ingest with the class's key; the
heatmap, the feed and the hotspots follow live; a reload shows the same picture from the
stored history; at 375 px the page does not overflow and the student column stays put.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.stack import DASHBOARD_DIST, PulseStack

DASHBOARD = DASHBOARD_DIST.parent
SCRIPT = DASHBOARD / "e2e" / "classroom.e2e.mjs"
GATEWAY_DOCUMENT = Path(__file__).parents[2] / "docs" / "schemas" / "gateway.openapi.json"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCRIPT_TIMEOUT_S = 180
INSTRUCTOR_EMAIL = "teacher@pulse.test"
INSTRUCTOR_PASSWORD = "a long enough password"
CLASS_ID = "py101-e2e"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Chromium is not installed (make test installs it)"
    ),
    pytest.mark.timeout(SCRIPT_TIMEOUT_S + 90),
]

# (student, cell index, error name or None), in the order they run.
RUNS = [
    ("ada", 0, None),
    ("bob", 0, None),
    ("ada", 1, None),
    ("cleo", 0, None),
    ("ada", 2, "NameError"),
    ("bob", 1, "NameError"),
]


def classroom_backend_present() -> bool:
    """The class routes are in the gateway's committed OpenAPI document (after the classroom
    backend branches are merged and ``make types`` has run)."""
    return '"/api/v1/classes"' in GATEWAY_DOCUMENT.read_text(encoding="utf-8")


@pytest.fixture
async def stack(make_stack: Any) -> PulseStack:
    if not classroom_backend_present():
        pytest.xfail(
            "needs the classroom backend (the /api/v1/classes routes and the class channel)"
        )
    if not (DASHBOARD_DIST / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make dashboard` (make test does)")
    if not (DASHBOARD / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core is not installed: run `make dashboard` (make test does)")
    stack: PulseStack = make_stack()
    stack.start(["auth", "ingest", "persistence", "gateway"])
    async with httpx.AsyncClient() as client:
        response = await client.post(
            stack["gateway"].url("/api/v1/admin/users"),
            headers={"Authorization": f"Bearer {await stack.token()}"},
            json={"email": INSTRUCTOR_EMAIL, "password": INSTRUCTOR_PASSWORD, "role": "instructor"},
        )
    assert response.status_code == 201, response.text
    return stack


def cell_executions() -> list[dict[str, Any]]:
    """What students' notebooks send (pulse_notebook's wire format), a second apart."""
    start = datetime.now(UTC) - timedelta(seconds=len(RUNS) + 5)
    events = []
    for n, (student, cell, error) in enumerate(RUNS):
        event: dict[str, Any] = {
            "eventId": str(uuid.uuid4()),
            "eventType": "cell_executed",
            "eventTime": (start + timedelta(seconds=n)).isoformat(),
            "userId": student,
            "notebookPath": "lesson1.ipynb",
            "cellId": f"cell-{cell}",
            "cellIndex": cell,
            "cellType": "code",
            "executionCount": n + 1,
            "executionDurationMs": 12.5,
        }
        if error:
            event |= {"hasError": True, "errorName": error, "errorMessage": f"{error}: x"}
        events.append(event)
    return events


async def test_instructor_creates_a_class_and_watches_it_live_then_from_history(
    stack: PulseStack, tmp_path: Path
) -> None:
    screenshot = Path(os.environ.get("PULSE_SCREENSHOT_DIR", tmp_path)) / "classroom.png"  # noqa: TID251 - where CI keeps artifacts
    env = {
        **os.environ,  # noqa: TID251 - PATH for node
        "PULSE_URL": stack["gateway"].url("/"),
        "PULSE_EMAIL": INSTRUCTOR_EMAIL,
        "PULSE_PASSWORD": INSTRUCTOR_PASSWORD,
        "PULSE_CLASS": CLASS_ID,
        "PULSE_SCREENSHOT": str(screenshot),
        "CHROMIUM": CHROMIUM,
    }
    browser = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        cwd=DASHBOARD,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert browser.stdin is not None
    assert browser.stdout is not None
    transcript: list[str] = []
    sent = 0

    async def converse() -> None:
        nonlocal sent
        assert browser.stdout is not None
        assert browser.stdin is not None
        async for raw in browser.stdout:
            line = raw.decode(errors="replace").rstrip()
            transcript.append(line)
            print(line)
            if line.startswith("PULSE:send-events "):
                secret = line.removeprefix("PULSE:send-events ")
                async with httpx.AsyncClient() as client:
                    response = await client.post(
                        stack["ingest"].url("/api/v1/events"),
                        headers={"Authorization": f"Bearer {secret}"},
                        json=cell_executions(),
                    )
                assert response.status_code == 202, response.text
                sent += 1
                browser.stdin.write(b"PULSE:events-sent\n")
                await browser.stdin.drain()

    try:
        await asyncio.wait_for(converse(), SCRIPT_TIMEOUT_S)
        code = await asyncio.wait_for(browser.wait(), 30)
    finally:
        if browser.returncode is None:
            browser.kill()
            await browser.wait()
    output = "\n".join(transcript)
    assert code == 0, f"the browser walk failed:\n{output}"
    assert "PULSE:passed" in transcript, output
    assert sent == 1, output
    assert screenshot.is_file()
