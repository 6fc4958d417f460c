"""The dashboard in a real browser against a real stack.

Debian's Chromium driven by ``playwright-core`` (services/dashboard/e2e/dashboard.e2e.mjs):
log in as admin, a cpu chart updates live, the last 15 minutes show history, the gateway is
restarted and the chart continues without a gap, log out. This test starts the stack, seeds
the history, restarts the gateway when the script asks, and keeps the screenshot.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest

from tests.support.stack import ADMIN_EMAIL, ADMIN_PASSWORD, DASHBOARD_DIST, PulseStack

DASHBOARD = DASHBOARD_DIST.parent
SCRIPT = DASHBOARD / "e2e" / "dashboard.e2e.mjs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCRIPT_TIMEOUT_S = 240
GATEWAY_DOWN_S = 6

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Chromium is not installed (make test installs it)"
    ),
    pytest.mark.timeout(SCRIPT_TIMEOUT_S + 90),
]


@pytest.fixture
async def stack(make_stack: Any) -> PulseStack:
    if not (DASHBOARD_DIST / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make dashboard` (make test does)")
    if not (DASHBOARD / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core is not installed: run `make dashboard` (make test does)")
    stack: PulseStack = make_stack(PULSE_GENERATOR_SOURCE="sim", PULSE_GENERATOR_SENSORS="2")
    stack.start(["auth", "ingest", "persistence", "gateway"])
    await seed_history(stack, minutes=16)
    stack.start(["generator"])
    return stack


async def seed_history(stack: PulseStack, minutes: int) -> None:
    """A cpu point a second for the last ``minutes``, up to a few seconds ago (the generator
    continues from there), published the way any producer would."""
    nc = await nats.connect(stack.nats_url)
    try:
        now = datetime.now(UTC).replace(microsecond=0)
        noise = random.Random(6)
        points = [
            {
                "time": (now - timedelta(seconds=age)).isoformat(),
                "source": "sim",
                "name": "cpu",
                "value": round(35.0 + 12.0 * math.sin(age / 90.0) + noise.gauss(0.0, 2.0), 2),
                "unit": "percent",
            }
            for age in range(minutes * 60, 2, -1)
        ]
        reply = await nc.request("ingest.metrics", json.dumps(points).encode(), timeout=10)
        assert json.loads(reply.data)["accepted"] == len(points)
    finally:
        await nc.drain()


async def test_log_in_watch_live_cpu_look_back_survive_a_gateway_restart_log_out(
    stack: PulseStack, tmp_path: Path
) -> None:
    screenshot = Path(os.environ.get("PULSE_SCREENSHOT_DIR", tmp_path)) / "dashboard.png"  # noqa: TID251 - where CI keeps artifacts
    env = {
        **os.environ,  # noqa: TID251 - PATH for node
        "PULSE_URL": stack["gateway"].url("/"),
        "PULSE_EMAIL": ADMIN_EMAIL,
        "PULSE_PASSWORD": ADMIN_PASSWORD,
        "PULSE_SERIES": "sim:cpu",
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
    restarts = 0

    async def converse() -> None:
        nonlocal restarts
        assert browser.stdout is not None
        assert browser.stdin is not None
        async for raw in browser.stdout:
            line = raw.decode(errors="replace").rstrip()
            transcript.append(line)
            print(line)  # the figures and steps belong in the test's output
            if line == "PULSE:restart-gateway":
                gateway = stack["gateway"]
                assert await asyncio.to_thread(gateway.terminate) == 0
                await asyncio.sleep(GATEWAY_DOWN_S)  # points pile up in the stream meanwhile
                await asyncio.to_thread(gateway.start)
                await asyncio.to_thread(gateway.wait_ready)
                restarts += 1
                browser.stdin.write(b"PULSE:restarted\n")
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
    assert restarts == 1, output
    assert screenshot.is_file()
