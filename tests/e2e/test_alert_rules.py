"""Alert rules end to end on real processes: an admin creates a cpu rule through the gateway,
a producer drives the series over the threshold, the alerts service fires through the real
notifier, and the recipient's socket gets the notification live — then "resolved" when the
value drops back. Also the rules API's refusals through the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client
from pulse_contracts import Codec, SeriesBatch, subjects, to_epoch_us

from tests.e2e.test_notifications import device
from tests.e2e.test_websocket import Socket
from tests.support.classes import create_user
from tests.support.stack import PulseStack, bearer, eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

RULES = "/api/v1/alerts/rules"
CODEC = Codec()


class Cpu:
    """``host-1``'s cpu in METRICS every 0.2 s, at the value it is set to."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self.value = 20.0
        self.stopping = asyncio.Event()

    async def publish(self) -> None:
        batch = SeriesBatch(
            source="host-1",
            name="cpu",
            times_us=[to_epoch_us(datetime.now(UTC))],
            values=[self.value],
            unit="percent",
        )
        await self.nc.jetstream().publish(
            subjects.metrics_subject("host-1", "cpu"), CODEC.pack(batch)
        )

    async def run(self) -> None:
        """Until :attr:`stopping` is set. Not cancelled: on Python 3.11 a cancel that meets a
        publish's ack at the same moment is lost (``asyncio.wait_for``), and the loop would go
        on, with the test waiting for it forever."""
        while not self.stopping.is_set():
            await self.publish()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 0.2)


@contextlib.asynccontextmanager
async def producing(stack: PulseStack) -> AsyncIterator[Cpu]:
    nc = await nats.connect(stack.nats_url)
    cpu = Cpu(nc)
    running = asyncio.create_task(cpu.run())
    try:
        yield cpu
    finally:
        cpu.stopping.set()
        await running
        await asyncio.wait_for(nc.drain(), 10)


async def rules_call(stack: PulseStack, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.request(
            method, stack["gateway"].url(path), headers=bearer(await stack.token()), **kwargs
        )


async def notified(stack: PulseStack, socket: Socket) -> dict[str, Any]:
    """The socket's next notification frame, within 20 s (pings do not extend the wait)."""
    try:
        return await asyncio.wait_for(socket.until("notification"), 20)
    except TimeoutError:
        logs = "\n".join(f"--- {name}\n{stack[name].output()}" for name in ("alerts", "notifier"))
        raise AssertionError(f"no notification within 20 s\n{logs}") from None


@pytest.fixture
async def pulse(make_stack: Any) -> PulseStack:
    stack: PulseStack = make_stack(PULSE_ALERTS_TICK_S="0.2")
    stack.start(["persistence", "auth", "notifier", "alerts", "gateway"])
    return stack


async def known_series(stack: PulseStack, body: dict[str, Any]) -> httpx.Response:
    """Create the rule once persistence has stored the series (before, it is unknown)."""

    async def attempt() -> httpx.Response | None:
        response = await rules_call(stack, "POST", RULES, json=body)
        return None if response.json().get("code") == "unknown_series" else response

    created = await eventually(attempt, within_s=30)
    assert created is not None
    return created


async def test_a_cpu_rule_fires_to_the_recipients_socket_and_resolves(pulse: PulseStack) -> None:
    user_id, token = await create_user(pulse, "oncall@pulse.test", "user")
    async with producing(pulse) as cpu, device(pulse, token, "gateway") as (socket, _):
        created = await known_series(
            pulse,
            {
                "name": "cpu hot",
                "condition": {"type": "threshold", "metric": "cpu", "op": "above",
                              "value": 90, "for_s": 1},
                "severity": "warning",
                "recipients": {"users": [user_id]},
            },
        )  # fmt: skip
        assert created.status_code == 201, created.text
        rule = created.json()["rule"]
        assert rule["condition"]["type"] == "threshold"
        listed = await rules_call(pulse, "GET", RULES)
        assert [r["id"] for r in listed.json()["rules"]] == [rule["id"]]
        preview = await rules_call(
            pulse, "POST", f"{RULES}/preview", json={"condition": rule["condition"]}
        )
        assert [(s["source"], s["matches"]) for s in preview.json()["series"]] == [
            ("host-1", False)
        ]

        cpu.value = 97.0
        crossed = time.monotonic()
        fired = await notified(pulse, socket)
        held = time.monotonic() - crossed
        assert fired["change"] == "created"
        assert fired["notification"]["source"] == "rule"
        assert fired["notification"]["kind"] == "warning"
        assert "cpu hot" in fired["notification"]["title"]
        assert held >= 1.0  # not before the condition held for its duration
        shown = await rules_call(pulse, "GET", f"{RULES}/{rule['id']}")
        assert [f["state"] for f in shown.json()["firings"]] == ["firing"]

        cpu.value = 10.0
        resolved = await notified(pulse, socket)
        assert resolved["change"] == "created"
        assert resolved["notification"]["kind"] == "success"
        assert resolved["unread"] == 2
        with pytest.raises(TimeoutError):  # one firing, one resolve: nothing more
            await asyncio.wait_for(socket.until("notification"), 2)

    deleted = await rules_call(pulse, "DELETE", f"{RULES}/{rule['id']}")
    assert deleted.status_code == 204
    assert (await rules_call(pulse, "GET", f"{RULES}/{rule['id']}")).status_code == 404


BAD_CONDITIONS = {
    "unknown-series": (
        {"type": "threshold", "metric": "no-such-metric", "value": 1},
        "unknown_series",
    ),
    "negative-duration": (
        {"type": "threshold", "metric": "cpu", "value": 1, "for_s": -5},
        "invalid_parameter",
    ),
    "no-data-zero": ({"type": "no_data", "metric": "cpu", "for_s": 0}, "invalid_parameter"),
    "unknown-type": ({"type": "teleport", "metric": "cpu"}, "invalid_parameter"),
    "unknown-class": (
        {"type": "student_idle", "class_id": "no-such-class", "minutes": 5},
        "unknown_class",
    ),
}


async def test_bad_rules_are_refused_with_stable_codes(pulse: PulseStack) -> None:
    async with producing(pulse):
        await eventually(
            lambda: rules_call(pulse, "POST", f"{RULES}/preview", json={"condition": {
                "type": "threshold", "metric": "cpu", "value": 1}}),
        )  # fmt: skip
        for case, (condition, code) in BAD_CONDITIONS.items():
            body = {"name": "bad", "condition": condition, "recipients": {"roles": ["admin"]}}
            refused = await rules_call(pulse, "POST", RULES, json=body)
            assert refused.status_code == 400, (case, refused.text)
            assert refused.json()["code"] == code, (case, refused.text)
    assert (await rules_call(pulse, "GET", RULES)).json()["rules"] == []
