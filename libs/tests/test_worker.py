"""The worker skeleton: every service's start and stop take the same steps, in one order."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from pulse_dev.embedded import EmbeddedNats, free_port
from pulse_runtime.service import Lifecycle
from pulse_runtime.settings import CommonSettings, DatabaseSettings, ListenerSettings
from pulse_runtime.worker import OwnedDatabase, Worker


class RecordingWorker(Worker):
    def __init__(self, nats_url: str, database_url: str | None, steps: list[str]) -> None:
        async def migrate(conn: asyncpg.Connection) -> list[str]:
            steps.append("migrate")
            return []

        database = None
        if database_url is not None:
            database = OwnedDatabase(
                DatabaseSettings(url=database_url), pool_size=2, migrate=migrate
            )
        super().__init__(
            "test",
            CommonSettings(nats_url=nats_url, shutdown_timeout_s=5),
            ListenerSettings(port=0),  # any free port (ranges are checked in the environment)
            database=database,
        )
        self.steps = steps

    async def prepare(self, lifecycle: Lifecycle) -> bool:
        self.steps.append("prepare")
        return True

    async def start_work(self, lifecycle: Lifecycle) -> bool:
        self.steps.append("start_work")
        return True

    async def finish_work(self) -> None:
        self.steps.append("finish_work")

    async def release(self) -> None:
        self.steps.append("release")


@pytest.mark.integration
async def test_a_worker_migrates_prepares_connects_then_works_and_stops_in_reverse(
    nats_server: EmbeddedNats, database_url: str
) -> None:
    steps: list[str] = []
    worker = RecordingWorker(nats_server.url, database_url, steps)
    assert await worker.start(Lifecycle())
    try:
        assert steps == ["migrate", "prepare", "start_work"]
        assert await worker.readiness() == {"nats": True, "database": True}
        async with httpx.AsyncClient() as client:
            ready = await client.get(f"http://127.0.0.1:{worker.health.port}/readyz")
        assert ready.status_code == 200
    finally:
        await worker.stop()
    assert steps[3:] == ["finish_work", "release"]
    assert await worker.readiness() == {"nats": False, "database": False}  # pool closed


async def test_a_worker_asked_to_stop_before_nats_answers_does_not_start() -> None:
    steps: list[str] = []
    worker = RecordingWorker(f"nats://127.0.0.1:{free_port()}", None, steps)
    lifecycle = Lifecycle()
    lifecycle.stopping.set()
    assert not await worker.start(lifecycle)
    assert await worker.readiness() == {"nats": False}  # no database: not a check
    await worker.stop()
    assert steps == ["prepare", "finish_work", "release"]
