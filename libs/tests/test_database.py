from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pulse_dev.embedded import EmbeddedPostgres, free_port
from pulse_runtime.database import (
    DATABASE_AWAY,
    acquired,
    create_pool,
    create_pool_when_reachable,
    pool_is_ready,
)

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


async def test_a_connection_dropped_inside_a_transaction_is_ended_not_reset(
    database_url: str,
) -> None:
    """The database goes away while a connection is inside a transaction (the protocol says so,
    as when the server ends the session before the rollback): ``acquired`` ends the connection
    instead of handing it back, so the pool reports no reset of an active transaction, and the
    next acquire gets a working connection."""
    reported: list[dict[str, object]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    pool = await create_pool(database_url, max_size=1)

    async def away_inside_a_transaction() -> None:
        async with acquired(pool) as conn:
            await conn.execute("BEGIN")
            raise ConnectionResetError("the server went away")

    try:
        with pytest.raises(DATABASE_AWAY):
            await away_inside_a_transaction()
        async with acquired(pool) as conn:
            assert await conn.fetchval("SELECT 2") == 2
    finally:
        loop.set_exception_handler(None)
        await pool.close()
    assert [c["message"] for c in reported] == []
