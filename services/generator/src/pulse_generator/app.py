"""The generator: simulated (and optionally real host) series, published like any producer."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pulse_contracts import CONTENT_TYPE_HEADER, JSON, subjects
from pulse_runtime.logging import get_logger
from pulse_runtime.service import Lifecycle
from pulse_runtime.telemetry import counter
from pulse_runtime.tracing import TRACEPARENT, new_traceparent
from pulse_runtime.worker import Worker

from .classroom import ClassPublisher, ClassSimulator
from .host import HostMetrics, host_source
from .settings import Settings
from .signals import Spike, simulated_signals

log = get_logger(__name__)


class GeneratorService(Worker):
    def __init__(self, settings: Settings) -> None:
        own = settings.generator
        super().__init__("generator", settings.common, own)
        self.settings = settings
        spike = (
            Spike(every_s=own.spike_every_s, duration_s=own.spike_s, value=own.spike_value)
            if own.spike_every_s > 0
            else None
        )
        rng = random.Random(own.seed)  # noqa: S311
        self.signals = simulated_signals(own.sensors, rng, spike)
        self.host_metrics = HostMetrics() if own.host_metrics else None
        self.host = host_source()
        self._published = counter(
            self.registry, "pulse_generator_points_published_total", "Points sent to ingest"
        )
        self._class_published = counter(
            self.registry,
            "pulse_generator_class_events_published_total",
            "Simulated class events sent to ingest",
        )
        self.classroom = self._simulated_class() if own.class_students else None
        self._tasks: list[asyncio.Task[None]] = []

    def _simulated_class(self) -> ClassPublisher:
        own = self.settings.generator
        seed = None if own.seed is None else own.seed + 1  # its own sequence beside the series
        simulator = ClassSimulator(
            class_id=own.class_id,
            students=own.class_students,
            cells=own.class_cells,
            speed=own.class_speed,
            started_at=datetime.now(UTC),
            rng=random.Random(seed),  # noqa: S311
        )
        return ClassPublisher(simulator, self._publish_class_events, self._class_published)

    async def _publish_class_events(self, body: bytes, headers: dict[str, str]) -> None:
        await self.broker.publish(body, subjects.INGEST_EVENTS, headers=headers)

    def tick(self, moment: datetime, elapsed_s: float) -> list[dict[str, Any]]:
        """The points of one tick, in the producer's JSON shape."""
        stamp = moment.isoformat()
        source = self.settings.generator.source
        points = [
            {
                "time": stamp,
                "source": source,
                "name": signal.name,
                "value": round(signal.sample(elapsed_s), 4),
                "unit": signal.unit,
            }
            for signal in self.signals
        ]
        if self.host_metrics is not None:
            points.extend(
                {"time": stamp, "source": self.host, "name": name, "value": value, "unit": unit}
                for name, (value, unit) in self.host_metrics.sample().items()
            )
        return points

    async def run(self, stopping: asyncio.Event) -> None:
        """Publish one batch per tick on a fixed schedule, so the rate does not drift."""
        period = 1.0 / self.settings.generator.rate_hz
        started = time.monotonic()
        wall_start = datetime.now(UTC)
        tick = 0
        while not stopping.is_set():
            elapsed = tick * period
            moment = wall_start + timedelta(seconds=elapsed)
            points = self.tick(moment, elapsed)
            try:
                await self.broker.publish(
                    self.codec.json_encoder.encode(points),
                    subjects.INGEST_METRICS,
                    headers={CONTENT_TYPE_HEADER: JSON, TRACEPARENT: new_traceparent()},
                )
                self._published.inc(len(points))
            except Exception as exc:  # a NATS outage: keep ticking, publish when it is back
                log.warning("publish failed", error=str(exc))
            tick += 1
            delay = started + tick * period - time.monotonic()
            if delay < 0:  # fell behind (e.g. a long NATS outage): skip, don't burst
                tick += int(-delay / period) + 1
                delay = started + tick * period - time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)

    async def start_work(self, lifecycle: Lifecycle) -> bool:
        own = self.settings.generator
        self._tasks = [asyncio.create_task(self.run(lifecycle.stopping))]
        if self.classroom is not None:
            self._tasks.append(asyncio.create_task(self.classroom.run(lifecycle.stopping)))
        log.info(
            "generating",
            series=len(self.signals),
            rate_hz=own.rate_hz,
            host_metrics=self.host_metrics is not None,
            class_id=own.class_id if self.classroom is not None else None,
            class_students=own.class_students,
        )
        return True

    async def finish_work(self) -> None:
        for task in self._tasks:
            await task
