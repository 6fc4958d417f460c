"""Notifications in a real browser against a real stack: two devices of one user.

Debian's Chromium driven by ``playwright-core`` (services/dashboard/e2e/notifications.e2e.mjs):
one user logs in on two devices (two browser contexts, each on its own gateway replica); this
test sends them a notification as an admin through the API; the bell counts it on both;
reading it on one device drops the count on the other.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.browser import walk
from tests.support.stack import DASHBOARD_DIST, PulseStack

DASHBOARD = DASHBOARD_DIST.parent
ROOT = Path(__file__).parents[2]
SCRIPT = DASHBOARD / "e2e" / "notifications.e2e.mjs"
GATEWAY_DOCUMENT = ROOT / "docs" / "schemas" / "gateway.openapi.json"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCRIPT_TIMEOUT_S = 150
USER_EMAIL = "ada@pulse.test"
USER_PASSWORD = "a long enough password"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Chromium is not installed (make test installs it)"
    ),
    pytest.mark.timeout(SCRIPT_TIMEOUT_S + 90),
]


@pytest.fixture
async def stack(make_stack: Any) -> tuple[PulseStack, str]:
    if not (DASHBOARD_DIST / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make dashboard` (make test does)")
    if not (DASHBOARD / "node_modules" / "playwright-core").is_dir():
        pytest.fail("playwright-core is not installed: run `make dashboard` (make test does)")
    stack: PulseStack = make_stack()
    stack.start(["auth", "notifier", "gateway"])
    stack.start_replica("gateway", "gateway-2")
    async with httpx.AsyncClient() as client:
        response = await client.post(
            stack["gateway"].url("/api/v1/admin/users"),
            headers={"Authorization": f"Bearer {await stack.token()}"},
            json={"email": USER_EMAIL, "password": USER_PASSWORD, "role": "user"},
        )
    assert response.status_code == 201, response.text
    return stack, response.json()["id"]


async def test_two_devices_of_one_user_follow_the_bell(
    stack: tuple[PulseStack, str], tmp_path: Path
) -> None:
    pulse, user_id = stack
    screenshot = Path(os.environ.get("PULSE_SCREENSHOT_DIR", tmp_path)) / "inbox.png"  # noqa: TID251 - where CI keeps artifacts
    env = {
        **os.environ,  # noqa: TID251 - PATH for node
        "PULSE_URL": pulse["gateway"].url("/"),
        "PULSE_URL_2": pulse["gateway-2"].url("/"),
        "PULSE_EMAIL": USER_EMAIL,
        "PULSE_PASSWORD": USER_PASSWORD,
        "PULSE_SCREENSHOT": str(screenshot),
        "CHROMIUM": CHROMIUM,
    }
    sent = 0

    async def answer(line: str) -> str | None:
        nonlocal sent
        if line != "PULSE:send-notification":
            return None
        async with httpx.AsyncClient() as client:
            response = await client.post(
                pulse["gateway"].url("/api/v1/notifications"),
                headers={"Authorization": f"Bearer {await pulse.token()}"},
                json={
                    "recipients": {"users": [user_id]},
                    "kind": "warning",
                    "title": "Maintenance tonight at 22:00",
                    "body": "The lab machines restart; save your notebooks.",
                    "link": {"kind": "class", "target": "py101"},
                },
            )
        assert response.status_code == 201, response.text
        assert response.json()["recipients"] == 1
        sent += 1
        return "PULSE:notification-sent"

    code, transcript = await walk(SCRIPT, env, answer, timeout_s=SCRIPT_TIMEOUT_S)
    output = "\n".join(transcript)
    assert code == 0, f"the browser walk failed:\n{output}"
    assert "PULSE:passed" in transcript, output
    assert sent == 1, output
    assert screenshot.is_file()
