"""The skeleton every NATS worker is built on (generator, ingest, persistence, auth).

A :class:`Worker` has a codec, a Prometheus registry, a broker reporting into it, and the
management listener (``/healthz``, ``/readyz``, ``/metrics``); its :meth:`~Worker.start` and
:meth:`~Worker.stop` take the same steps for every service, which fills in only its own:

- :meth:`~Worker.prepare`: before NATS (a database, its migrations);
- :meth:`~Worker.start_work`: once connected and subscribed (a task, an HTTP server, an
  announcement);
- :meth:`~Worker.finish_work`: before the broker stops (the work in hand);
- :meth:`~Worker.release`: after the broker stopped (what ``prepare`` opened).

A :class:`DatabaseWorker` also owns a schema: its pool, waited for however long the database
takes, its migrations at start, and the database in its readiness.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
from nats.js.api import StreamConfig
from pulse_contracts import Codec

from .database import create_pool_when_reachable, pool_is_ready
from .health import HealthListener
from .messaging import create_broker, is_connected, start_broker
from .service import Lifecycle
from .settings import CommonSettings, DatabaseSettings
from .telemetry import new_registry

Migrate = Callable[[asyncpg.Connection], Awaitable[list[str]]]
PrepareConnection = Callable[[asyncpg.Connection], Awaitable[None]]


class Worker:
    def __init__(
        self,
        name: str,
        common: CommonSettings,
        *,
        host: str,
        port: int,
        streams: list[StreamConfig] | None = None,
    ) -> None:
        """``name`` names the NATS connection and the broker's metrics; ``host``/``port``
        are the management listener's; ``streams`` are ensured before subscribing."""
        self.codec = Codec()
        self.registry = new_registry()
        self.broker = create_broker(common, name, self.registry)
        self.health = HealthListener(
            host=host, port=port, readiness=self.readiness, registry=self.registry
        )
        self._streams = streams

    async def readiness(self) -> dict[str, bool]:
        return {"nats": is_connected(self.broker)}

    async def start(self, lifecycle: Lifecycle) -> bool:
        """False when asked to stop before the service could start."""
        await self.health.start()
        if not await self.prepare(lifecycle):
            return False
        if not await start_broker(self.broker, lifecycle.stopping, self._streams):
            return False
        if not await self.start_work(lifecycle):
            return False
        self.health.mark_started()
        return True

    async def stop(self) -> None:
        await self.finish_work()
        await self.broker.stop()  # stops taking messages, finishes in-flight ones, drains
        await self.release()
        await self.health.stop()

    async def prepare(self, lifecycle: Lifecycle) -> bool:
        """Before NATS; False when asked to stop meanwhile."""
        return True

    async def start_work(self, lifecycle: Lifecycle) -> bool:
        """Once connected and subscribed; False when asked to stop meanwhile."""
        return True

    async def finish_work(self) -> None:
        """Before the broker stops."""

    async def release(self) -> None:
        """After the broker stopped."""


class DatabaseWorker(Worker):
    def __init__(
        self,
        name: str,
        common: CommonSettings,
        *,
        host: str,
        port: int,
        database: DatabaseSettings,
        pool_size: int,
        migrate: Migrate,
        prepare_connection: PrepareConnection | None = None,
        streams: list[StreamConfig] | None = None,
    ) -> None:
        super().__init__(name, common, host=host, port=port, streams=streams)
        self.pool: asyncpg.Pool | None = None
        self._database = database
        self._pool_size = pool_size
        self._migrate = migrate
        self._prepare_connection = prepare_connection

    async def readiness(self) -> dict[str, bool]:
        return {**await super().readiness(), "database": await pool_is_ready(self.pool)}

    async def prepare(self, lifecycle: Lifecycle) -> bool:
        """The pool, once the database answers, and the schema migrated."""
        self.pool = await create_pool_when_reachable(
            self._database.url,
            lifecycle.stopping,
            max_size=self._pool_size,
            init=self._prepare_connection,
        )
        if self.pool is None:
            return False
        async with self.pool.acquire() as conn:
            await self._migrate(conn)
        return True

    async def release(self) -> None:
        if self.pool is not None:
            await self.pool.close()
