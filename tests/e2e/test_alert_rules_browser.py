"""Alert rules in a real browser against a real stack: a rule made on the Rules page fires and
resolves to its author's bell and inbox.

Debian's Chromium driven by ``playwright-core`` (services/dashboard/e2e/alert-rules.e2e.mjs):
an admin logs in, opens the Rules page and fills the form for cpu above 90 for 1 s to
themselves (the preview lists host-1 with its value); this test publishes host-1's cpu every
0.2 s and moves it when the script asks: to 97 (the bell counts the rule's notification, the
rule shows host-1:cpu firing, the inbox shows it), then to 10 ("resolved", the count is 2).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_alert_rules import RULES, producing, rules_call
from tests.support.browser import walk
from tests.support.stack import ADMIN_EMAIL, ADMIN_PASSWORD, DASHBOARD_DIST, PulseStack, eventually

DASHBOARD = DASHBOARD_DIST.parent
SCRIPT = DASHBOARD / "e2e" / "alert-rules.e2e.mjs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCRIPT_TIMEOUT_S = 150
SET_CPU = "PULSE:set-cpu "

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
    stack: PulseStack = make_stack(PULSE_ALERTS_TICK_S="0.2")
    stack.start(["persistence", "auth", "notifier", "alerts", "gateway"])
    return stack


async def stored(pulse: PulseStack) -> None:
    """Wait until persistence knows host-1's cpu (the preview lists only stored series)."""
    preview = {"condition": {"type": "threshold", "metric": "cpu", "value": 90}}

    async def listed() -> bool:
        response = await rules_call(pulse, "POST", f"{RULES}/preview", json=preview)
        return response.status_code == 200 and bool(response.json()["series"])

    assert await eventually(listed, within_s=30), "persistence never stored host-1's cpu"


async def admin_id(pulse: PulseStack) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.get(
            pulse["gateway"].url("/api/v1/admin/users"),
            headers={"Authorization": f"Bearer {await pulse.token()}"},
        )
    assert response.status_code == 200, response.text
    return str(next(u["id"] for u in response.json() if u["email"] == ADMIN_EMAIL))


async def test_a_rule_made_on_the_rules_page_fires_to_the_bell_and_resolves(
    pulse: PulseStack, tmp_path: Path
) -> None:
    screenshot = Path(os.environ.get("PULSE_SCREENSHOT_DIR", tmp_path)) / "alert-rules.png"  # noqa: TID251 - where CI keeps artifacts
    env = {
        **os.environ,  # noqa: TID251 - PATH for node
        "PULSE_URL": pulse["gateway"].url("/"),
        "PULSE_EMAIL": ADMIN_EMAIL,
        "PULSE_PASSWORD": ADMIN_PASSWORD,
        "PULSE_SCREENSHOT": str(screenshot),
        "CHROMIUM": CHROMIUM,
    }
    values: list[float] = []
    async with producing(pulse) as cpu:
        await stored(pulse)

        async def answer(line: str) -> str | None:
            if not line.startswith(SET_CPU):
                return None
            cpu.value = float(line.removeprefix(SET_CPU))
            values.append(cpu.value)
            return "PULSE:cpu-set"

        code, transcript = await walk(SCRIPT, env, answer, timeout_s=SCRIPT_TIMEOUT_S)
    output = "\n".join(transcript)
    assert code == 0, f"the browser walk failed:\n{output}"
    assert "PULSE:passed" in transcript, output
    assert values == [97.0, 10.0], output
    assert screenshot.is_file()

    # What the form sent is the rule the admin meant.
    listed = await rules_call(pulse, "GET", RULES)
    [rule] = listed.json()["rules"]
    assert rule["name"] == "cpu hot"
    assert rule["condition"] == {
        "type": "threshold", "metric": "cpu", "source": None, "op": "above",
        "value": 90.0, "for_s": 1.0,
    }  # fmt: skip
    assert rule["severity"] == "warning"
    assert rule["enabled"] is True
    assert rule["recipients"]["users"] == [await admin_id(pulse)]
    assert not rule["recipients"].get("roles")
    assert not rule["recipients"].get("everyone")
    shown = await rules_call(pulse, "GET", f"{RULES}/{rule['id']}")
    assert shown.json()["firings"] == []  # resolved: at rest again
