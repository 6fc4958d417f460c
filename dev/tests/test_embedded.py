"""The embedded dev servers start, keep their data across restarts and survive a crash."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg
import nats
import pytest
from pulse_dev.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedServerError, free_port


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


@pytest.mark.integration
async def test_nats_jetstream_stream_survives_restart(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path / "nats") as server:
        url = server.url
        nc = await nats.connect(url, max_reconnect_attempts=0)
        js = nc.jetstream()
        await js.account_info()
        await js.add_stream(name="EVENTS", subjects=["events.>"])
        await js.publish("events.a", b"hello")
        await nc.close()

        server.stop()
        server.stop()  # idempotent
        server.start()

        assert server.url == url
        nc = await nats.connect(url, max_reconnect_attempts=0)
        info = await nc.jetstream().stream_info("EVENTS")
        assert info.state.messages == 1
        await nc.close()


@pytest.mark.integration
async def test_nats_restarts_after_kill(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path / "nats") as server:
        nc = await nats.connect(server.url, max_reconnect_attempts=0)
        await nc.jetstream().add_stream(name="EVENTS", subjects=["events.>"])
        await nc.close()

        server.kill()
        server.start()

        nc = await nats.connect(server.url, max_reconnect_attempts=0)
        info = await nc.jetstream().stream_info("EVENTS")
        assert info.config.name == "EVENTS"
        await nc.close()


@pytest.mark.integration
async def test_nats_takes_a_max_payload_and_keeps_it_across_restarts(tmp_path: Path) -> None:
    with EmbeddedNats(tmp_path / "nats", max_payload=64 * 1024) as server:
        for _ in range(2):
            nc = await nats.connect(server.url, max_reconnect_attempts=0)
            try:
                assert nc.max_payload == 64 * 1024
                with pytest.raises(nats.errors.MaxPayloadError):
                    await nc.publish("too.big", b"x" * (64 * 1024 + 1))
                await nc.jetstream().account_info()  # JetStream is still on
            finally:
                await nc.close()
            server.stop()
            server.start()


@pytest.mark.integration
def test_nats_start_reports_why_it_failed(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = EmbeddedNats(tmp_path / "nats", port=port)
        with pytest.raises(EmbeddedServerError, match="address already in use"):
            server.start()
    server.stop()


@pytest.mark.integration
async def test_postgres_restart_keeps_data(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path / "pg") as server:
        url = server.url
        assert url.startswith("postgresql://pulse@127.0.0.1:")
        assert url.endswith("/pulse")
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("select 1") == 1
        assert await conn.fetchval("select current_database()") == "pulse"
        await conn.execute("create table kept (x int)")
        await conn.execute("insert into kept values (42)")
        await conn.close()

        server.stop()
        server.stop()  # idempotent
        server.start()

        assert server.url == url
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("select x from kept") == 42
        await conn.close()


@pytest.mark.integration
async def test_postgres_recovers_after_kill(tmp_path: Path) -> None:
    # A data dir this deep cannot hold the unix socket, which exercises the /tmp fallback.
    data_dir = tmp_path / ("d" * 60) / "pg"
    with EmbeddedPostgres(data_dir, database="other") as server:
        conn = await asyncpg.connect(server.url)
        await conn.execute("create table committed (x int)")
        await conn.execute("insert into committed values (7)")
        await conn.close()

        server.kill()
        server.kill()  # idempotent
        server.start()

        conn = await asyncpg.connect(server.url)
        assert await conn.fetchval("select x from committed") == 7
        assert await conn.fetchval("select current_database()") == "other"
        await conn.close()
