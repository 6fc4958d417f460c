"""The alerts service on a real NATS and PostgreSQL, with persistence for the series catalog
and a stand-in notifier on ``rpc.notify.create`` that records what it is asked.

A cpu series driven by the test's own producer (SeriesBatch on the METRICS stream) crosses a
threshold rule: it fires within the rule's duration, once; killed with SIGKILL while firing and
started again, the service fires no second time and the resolve still comes; with two replicas,
one create only, and the standby resolves once the evaluator is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from pulse_contracts import Codec, RpcError, SeriesBatch, subjects, to_epoch_us
from pulse_contracts.notifications import (
    AlertRule,
    AlertsReply,
    Caller,
    Created,
    CreateNotification,
    CreateRule,
    Recipients,
    RuleReply,
    Threshold,
)
from pulse_dev.embedded import free_port

from tests.support.stack import PulseStack, ServiceProcess, eventually

pytestmark = pytest.mark.integration

ADMIN = Caller(user_id="00000000-0000-0000-0000-00000000000a", role="admin")
CODEC = Codec()
REPLIES = msgspec.msgpack.Decoder(AlertsReply)
FAST = {"PULSE_ALERTS_TICK_S": "0.2", "PULSE_ALERTS_STANDBY_POLL_S": "0.3"}


@dataclass
class Notifier:
    """Stands in for the notifier: answers every create, records it with when it came."""

    received: list[tuple[float, CreateNotification]] = field(default_factory=list)

    async def answer(self, msg: Msg) -> None:
        request = msgspec.msgpack.decode(msg.data, type=CreateNotification)
        self.received.append((time.monotonic(), request))
        await msg.respond(CODEC.pack(Created(recipients=1, ids=[len(self.received)])))

    def keys(self) -> list[str]:
        return [request.dedupe_key or "" for _, request in self.received]

    def firings(self) -> list[str]:
        return [key for key in self.keys() if not key.endswith(":resolved")]

    def resolves(self) -> list[str]:
        return [key for key in self.keys() if key.endswith(":resolved")]


@dataclass
class Producer:
    """Publishes the cpu of ``host-1`` to METRICS every 0.2 s, at the value it is set to."""

    nc: Client
    value: float = 20.0
    crossed_at: float | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def set(self, value: float) -> None:
        self.value = value
        self.crossed_at = time.monotonic()

    async def publish_once(self) -> None:
        batch = SeriesBatch(
            source="host-1",
            name="cpu",
            times_us=[to_epoch_us_now()],
            values=[self.value],
            unit="percent",
        )
        await self.nc.jetstream().publish(
            subjects.metrics_subject("host-1", "cpu"), CODEC.pack(batch)
        )

    async def run(self) -> None:
        """Until :attr:`stopping` (a cancel meeting a publish's ack can be lost on 3.11)."""
        while not self.stopping.is_set():
            await self.publish_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), 0.2)


def to_epoch_us_now() -> int:
    return to_epoch_us(datetime.now(UTC))


@contextlib.asynccontextmanager
async def harness(stack: PulseStack) -> AsyncIterator[tuple[Client, Notifier, Producer]]:
    stack.start(["persistence"])  # it makes the streams and answers the catalog
    nc = await nats.connect(stack.nats_url)
    notifier = Notifier()
    await nc.subscribe(subjects.notify_rpc("create"), cb=notifier.answer)
    producer = Producer(nc)
    await producer.publish_once()
    running = asyncio.create_task(producer.run())
    try:
        yield nc, notifier, producer
    finally:
        producer.stopping.set()
        await running
        await nc.drain()


async def ask(nc: Client, verb: str, request: object) -> object:
    reply = await nc.request(subjects.alerts_rpc(verb), CODEC.pack(request), timeout=10)
    return REPLIES.decode(reply.data)


async def create_cpu_rule(nc: Client, for_s: float) -> AlertRule:
    request = CreateRule(
        caller=ADMIN,
        name="cpu hot",
        condition=Threshold(metric="cpu", value=90, for_s=for_s),
        recipients=Recipients(roles=["admin"]),
    )

    async def created() -> RuleReply | None:
        reply = await ask(nc, "create", request)
        # unknown_series until persistence has stored the first point
        return reply if isinstance(reply, RuleReply) else None

    reply = await eventually(created, within_s=30)
    assert reply is not None
    return reply.rule


def leading(service: ServiceProcess) -> bool:
    with urllib.request.urlopen(service.url("/metrics"), timeout=2) as response:
        text = response.read().decode()
    return "pulse_alerts_leading 1.0" in text


@pytest.fixture
def replica_dir(tmp_path: Path) -> Path:
    path = tmp_path / "replica2"
    path.mkdir()
    return path


async def test_refusals_have_stable_codes(make_stack: Any) -> None:
    stack = make_stack(**FAST)
    async with harness(stack) as (nc, _, _):
        stack.start(["alerts"])
        unknown = await ask(
            nc,
            "create",
            CreateRule(
                caller=ADMIN,
                name="nothing",
                condition=Threshold(metric="no_such_metric", value=1),
                recipients=Recipients(everyone=True),
            ),
        )
        assert isinstance(unknown, RpcError)
        assert unknown.code == "unknown_series"
        negative = {
            "type": "create_rule",
            "caller": {"user_id": "u", "role": "admin"},
            "name": "n",
            "condition": {"type": "threshold", "metric": "cpu", "value": 1, "for_s": -5},
            "recipients": {"everyone": True},
        }
        refused = await ask(nc, "create", negative)
        assert isinstance(refused, RpcError)
        assert (refused.code, refused.message) == (
            "bad_rule",
            "Expected `float` >= 0.0 - at `$.condition.for_s`",
        )
        student = await ask(
            nc, "list", {"type": "list_rules", "caller": {"user_id": "s", "role": "student"}}
        )
        assert isinstance(student, RpcError)
        assert student.code == "forbidden"
        missing = await ask(
            nc, "get", {"type": "get_rule", "caller": msgspec.to_builtins(ADMIN), "rule_id": "x"}
        )
        assert isinstance(missing, RpcError)
        assert missing.code == "rule_not_found"


async def test_a_cpu_rule_fires_within_its_duration_once_across_a_kill_and_resolves(
    make_stack: Any,
) -> None:
    stack = make_stack(**FAST)
    async with harness(stack) as (nc, notifier, producer):
        stack.start(["alerts"])
        rule = await create_cpu_rule(nc, for_s=2.0)
        await asyncio.sleep(1.0)  # the evaluator loads the rule
        producer.set(95.0)
        crossed = producer.crossed_at
        assert crossed is not None
        assert await eventually(lambda: _some(notifier.firings()), within_s=10)
        fired_after = notifier.received[0][0] - crossed
        assert 2.0 <= fired_after < 4.0, fired_after
        (first,) = notifier.firings()
        assert first.startswith(f"alert:{rule.id}:host-1:cpu:")
        request = notifier.received[0][1]
        assert (request.source, request.kind, request.title) == ("rule", "warning", "cpu hot")

        stack["alerts"].kill()  # SIGKILL while firing
        stack.start(["alerts"])
        await asyncio.sleep(3.0)  # still above: nothing new
        assert set(notifier.firings()) == {first}, notifier.keys()

        producer.set(40.0)
        assert await eventually(lambda: _some(notifier.resolves()), within_s=10)
        assert notifier.resolves() == [f"{first}:resolved"]
        resolved = notifier.received[-1][1]
        assert (resolved.kind, resolved.title) == ("success", "Resolved: cpu hot")
        await asyncio.sleep(1.0)
        assert set(notifier.firings()) == {first}


async def test_two_replicas_fire_once_and_the_standby_resolves(
    make_stack: Any, replica_dir: Path
) -> None:
    stack = make_stack(**FAST)
    async with harness(stack) as (nc, notifier, producer):
        stack.start(["alerts"])
        second = ServiceProcess(
            "alerts", stack.base_env() | {"PULSE_ALERTS_PORT": str(free_port())}, replica_dir
        )
        second.start()
        try:
            second.wait_ready()
            replicas = [stack["alerts"], second]
            await create_cpu_rule(nc, for_s=0.5)
            await asyncio.sleep(1.0)
            assert [leading(r) for r in replicas].count(True) == 1
            producer.set(97.0)
            assert await eventually(lambda: _some(notifier.firings()), within_s=10)
            await asyncio.sleep(2.0)
            assert len(notifier.firings()) == 1, notifier.keys()

            (leader,) = [r for r in replicas if leading(r)]
            (standby,) = [r for r in replicas if r is not leader]
            leader.kill()
            assert await eventually(lambda: _true(leading(standby)), within_s=10)
            producer.set(10.0)
            assert await eventually(lambda: _some(notifier.resolves()), within_s=10)
            assert len(notifier.firings()) == 1, notifier.keys()
            assert notifier.resolves() == [f"{notifier.firings()[0]}:resolved"]
        finally:
            if second.process is not None and second.process.poll() is None:
                second.terminate()


async def _some(items: list[str]) -> list[str]:
    return items


async def _true(value: bool) -> bool:
    return value


async def test_a_bulk_imports_history_is_not_evaluated(make_stack: Any) -> None:
    """host-2's imported points (``SeriesBatch.imported``), far above the threshold for longer
    than the rule's duration, fire nothing: last month's values say nothing about now. The
    same values sent live do fire."""
    stack = make_stack(**FAST)
    async with harness(stack) as (nc, notifier, _producer):
        stack.start(["alerts"])
        await create_cpu_rule(nc, for_s=1.0)
        await asyncio.sleep(1.0)  # the evaluator loads the rule

        async def host_2_at_99(*, imported: bool) -> None:
            batch = SeriesBatch(
                source="host-2",
                name="cpu",
                times_us=[to_epoch_us_now()],
                values=[99.0],
                imported=imported,
            )
            await nc.jetstream().publish(
                subjects.metrics_subject("host-2", "cpu"), CODEC.pack(batch)
            )

        for _ in range(15):  # 3 s: three times the rule's duration
            await host_2_at_99(imported=True)
            await asyncio.sleep(0.2)
        assert notifier.firings() == []

        async def fired() -> list[str]:
            await host_2_at_99(imported=False)
            return notifier.firings()

        assert await eventually(fired, within_s=10)
        assert all(":host-2:cpu:" in key for key in notifier.firings()), notifier.keys()
