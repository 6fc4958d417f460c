from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pulse_runtime.database import create_pool_when_reachable, pool_is_ready
from pulse_runtime.embedded import EmbeddedPostgres, free_port

pytestmark = pytest.mark.integration


async def test_a_service_waits_for_its_database_to_come_up(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "pg", port=free_port())
    stopping = asyncio.Event()
    waiting = asyncio.create_task(create_pool_when_reachable(server.url, stopping))
    await asyncio.sleep(1)
    assert not waiting.done()
    server.start()
    try:
        pool = await asyncio.wait_for(waiting, 30)
        assert pool is not None
        assert await pool_is_ready(pool)
        await pool.close()
    finally:
        server.stop()


async def test_waiting_ends_when_the_service_is_asked_to_stop() -> None:
    stopping = asyncio.Event()
    waiting = asyncio.create_task(
        create_pool_when_reachable(f"postgresql://x@127.0.0.1:{free_port()}/x", stopping)
    )
    await asyncio.sleep(0.5)
    stopping.set()
    assert await asyncio.wait_for(waiting, 10) is None
    assert not await pool_is_ready(None)
