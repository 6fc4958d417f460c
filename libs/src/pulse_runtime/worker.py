"""The skeleton every NATS worker is built on (generator, ingest, persistence, auth).

A :class:`Worker` has a codec, a Prometheus registry, a broker reporting into it, the
management listener (``/healthz``, ``/readyz``, ``/metrics``), the process's audit recorder
and task log (``audit``, ``tasks``: docs/audit.md) and, for a service that owns a schema, its
:class:`OwnedDatabase`. :meth:`~Worker.start` and :meth:`~Worker.stop` take the same
steps for every service, which fills in only what is its own:

- :meth:`~Worker.prepare`: before NATS, once the database (if any) is open and migrated;
- :meth:`~Worker.start_work`: once connected and subscribed (a task, an HTTP server, an
  announcement);
- :meth:`~Worker.finish_work`: before the broker stops (the work in hand);
- :meth:`~Worker.release`: after the broker stopped and the database closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
from faststream.nats import NatsBroker
from nats.js.api import StreamConfig
from pulse_contracts import Codec

from .audit.recorder import AuditRecorder, jetstream_publisher
from .audit.tasks import TaskLog
from .database import create_pool_when_reachable, pool_is_ready
from .health import HealthListener
from .messaging import create_broker, is_connected, start_broker
from .service import Lifecycle
from .settings import AuditSettings, CommonSettings, DatabaseSettings, ListenerSettings
from .telemetry import new_registry

Migrate = Callable[[asyncpg.Connection], Awaitable[list[str]]]
PrepareConnection = Callable[[asyncpg.Connection], Awaitable[None]]


class OwnedDatabase:
    """The database a worker keeps its schema in: a pool, waited for however long the database
    takes to answer, and the schema's migrations applied before anything else uses it."""

    def __init__(
        self,
        settings: DatabaseSettings,
        *,
        pool_size: int,
        migrate: Migrate,
        prepare_connection: PrepareConnection | None = None,
    ) -> None:
        self._settings = settings
        self._pool_size = pool_size
        self._migrate = migrate
        self._prepare_connection = prepare_connection
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "the database is opened when the worker starts"
        return self._pool

    async def open(self, stopping: asyncio.Event) -> bool:
        """The pool, once the database answers, and the schema migrated; False when asked to
        stop while waiting."""
        self._pool = await create_pool_when_reachable(
            self._settings.url,
            stopping,
            max_size=self._pool_size,
            init=self._prepare_connection,
        )
        if self._pool is None:
            return False
        async with self._pool.acquire() as conn:
            await self._migrate(conn)
        return True

    async def is_ready(self) -> bool:
        return await pool_is_ready(self._pool)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()


class Worker:
    def __init__(
        self,
        name: str,
        common: CommonSettings,
        listener: ListenerSettings,
        *,
        streams: list[StreamConfig] | None = None,
        database: OwnedDatabase | None = None,
        audit: AuditSettings | None = None,
    ) -> None:
        """``name`` names the NATS connection, the broker's metrics and the audit records'
        service; the management listener serves on ``listener.management``; ``streams`` are
        ensured before subscribing."""
        self.codec = Codec()
        self.registry = new_registry()
        self.broker = create_broker(common, name, self.registry)
        # A worker without ``audit`` settings (a producer: the generator) records nothing.
        self._records_audit = audit is not None
        self.audit = AuditRecorder(name, audit or AuditSettings(), self.registry)
        self.tasks = TaskLog(self.audit, service=name)
        host, port = listener.management
        self.health = HealthListener(
            host=host, port=port, readiness=self.readiness, registry=self.registry
        )
        self.database = database
        self._streams = streams

    async def readiness(self) -> dict[str, bool]:
        checks = {"nats": is_connected(self.broker)}
        if self.database is not None:
            checks["database"] = await self.database.is_ready()
        return checks

    async def start(self, lifecycle: Lifecycle) -> bool:
        """False when asked to stop before the service could start."""
        await self.health.start()
        if self._records_audit:
            start_recorder(self.audit, self.broker)
        if self.database is not None and not await self.database.open(lifecycle.stopping):
            return False
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
        await self.audit.stop()  # publishes what is buffered while NATS is still there
        await self.broker.stop()  # stops taking messages, finishes in-flight ones, drains
        if self.database is not None:
            await self.database.close()
        await self.release()
        self.audit.close()  # spools what was recorded while the broker drained
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
        """After the broker stopped and the database closed."""


def start_recorder(recorder: AuditRecorder, broker: NatsBroker) -> None:
    """Start ``recorder`` publishing to LOGS through ``broker`` (spooling while it is not
    connected): at the start of a service, before NATS is reached, so records made while
    waiting for it (and a spool left by the process before) are kept."""
    recorder.start(
        jetstream_publisher(broker.publish, recorder.settings.publish_timeout_s),
        lambda: is_connected(broker),
    )
