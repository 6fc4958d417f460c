"""Pulse on five hosts of one machine: three NATS nodes, two application hosts.

``app-a`` runs auth, the generator, a gateway, an ingest and a persistence; ``app-b`` a
second gateway, ingest and persistence. Every service is given all three NATS nodes
(``PULSE_NATS_URL``) and creates its streams with three replicas (``PULSE_STREAM_REPLICAS``).
PostgreSQL runs on the machine, on the bridge (it is not what these scenarios fail).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import asyncpg
from pulse_dev.embedded import EmbeddedPostgres

from tests.support.stack import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    DASHBOARD_DIST,
    HTTP_PORT_VARIABLE,
    ServiceProcess,
    create_database,
)

from .nats_cluster import NatsCluster
from .network import Host, Network

PORTS = {"gateway": 8000, "ingest": 8001, "generator": 8002, "persistence": 8003, "auth": 8004}
MANAGEMENT_PORTS = {"gateway": 8005, "ingest": 8006}
APP_A = ("auth", "persistence", "ingest", "gateway", "generator")
APP_B = ("persistence", "ingest", "gateway")


class HostedService(ServiceProcess):
    """A Pulse service process inside a host's namespace, listening on the host's address."""

    def __init__(self, name: str, host: Host, env: Mapping[str, str], log_dir: Path) -> None:
        super().__init__(name, env, log_dir, f"{name}-{host.name}")
        self.host = host

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.host.command([sys.executable, "-m", f"pulse_{self.name}"]),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def url(self, path: str = "/") -> str:
        return f"http://{self.host.address}:{self.port}{path}"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class PulseCluster:
    """Everything above, started by :meth:`start` and removed by :meth:`stop`."""

    def __init__(
        self, work_dir: Path, *, nats_nodes: int = 3, stream_replicas: int = 3, **extra_env: str
    ) -> None:
        """``nats_nodes=1, stream_replicas=1``: the same services on one NATS node (benchmarks
        compare the two)."""
        self.work_dir = work_dir
        self.nats_nodes = nats_nodes
        self.network = Network()
        self.stream_replicas = stream_replicas
        self.extra_env = extra_env
        self.postgres: EmbeddedPostgres | None = None
        self.nats: NatsCluster | None = None
        self.database_url = ""
        self.services: dict[str, HostedService] = {}

    def __getitem__(self, label: str) -> HostedService:
        """``cluster["gateway-app-a"]``: a service by its name and host."""
        return self.services[label]

    async def start(self) -> None:
        """Blocks while the processes start (a minute at most): only the database is awaited."""
        self.network.create()
        nats_hosts = [
            self.network.add_host(f"nats-{index}") for index in range(1, self.nats_nodes + 1)
        ]
        app_a, app_b = self.network.add_host("app-a"), self.network.add_host("app-b")
        self.postgres = EmbeddedPostgres(self.work_dir / "postgres", host=self.network.address)
        self.postgres.start()
        self._trust_the_hosts(self.postgres)
        self.nats = NatsCluster(nats_hosts, self.work_dir)
        self.nats.start()
        self.database_url = await create_database(self.postgres.url)
        # persistence first: it applies the migrations the others' schemas come from.
        self._start([("persistence", app_a)])
        self._start([("auth", app_a)])
        self._start(
            [(name, app_a) for name in APP_A if name not in ("auth", "persistence")]
            + [(name, app_b) for name in APP_B]
        )

    def _trust_the_hosts(self, postgres: EmbeddedPostgres) -> None:
        """initdb trusts loopback only: let the hosts' addresses in too, then reload."""
        hba = self.work_dir / "postgres" / "pgdata" / "pg_hba.conf"
        with hba.open("a", encoding="utf-8") as conf:
            conf.write(f"host all all {self.network.prefix}.0/24 trust\n")
        assert postgres.pid is not None
        os.kill(postgres.pid, signal.SIGHUP)
        time.sleep(0.5)  # the postmaster rereads pg_hba.conf on SIGHUP, asynchronously

    def env_for(self, name: str, host: Host) -> dict[str, str]:
        assert self.nats is not None
        env = {
            key: value
            for key, value in os.environ.items()  # noqa: TID251 - PATH etc. pass through
            if not key.startswith("PULSE_")
        }
        env.update(
            PULSE_NATS_URL=self.nats.urls,
            PULSE_STREAM_REPLICAS=str(self.stream_replicas),
            # Each stream reserves its max bytes on every node it is placed on: five streams
            # of the default 1 GiB would not fit the nodes' 4 GB (docs/operations.md).
            PULSE_STREAM_MAX_BYTES=str(256 << 20),
            # A partitioned node is noticed after two missed pings (4 to 6 s), not 4 minutes.
            PULSE_NATS_PING_INTERVAL_S="2",
            PULSE_DATABASE_URL=self.database_url,
            PULSE_LOG_FORMAT="json",
            PULSE_LOG_LEVEL="info",
            PYTHONUNBUFFERED="1",
            PULSE_ADMIN_EMAIL=ADMIN_EMAIL,
            PULSE_ADMIN_PASSWORD=ADMIN_PASSWORD,
            PULSE_GATEWAY_COOKIE_SECURE="false",
            PULSE_GATEWAY_DASHBOARD_DIR=str(DASHBOARD_DIST),
            PULSE_AUDIT_SPOOL_DIR=str(self.work_dir / "audit-spool" / host.name),
            # A persistence that dies holds its batch this long before the other gets it.
            PULSE_PERSISTENCE_ACK_WAIT_S="5",
        )
        for service, port in PORTS.items():
            env[HTTP_PORT_VARIABLE[service]] = str(port)
            env[f"PULSE_{service.upper()}_HOST"] = host.address
        for service, port in MANAGEMENT_PORTS.items():
            env[f"PULSE_{service.upper()}_METRICS_PORT"] = str(port)
            env[f"PULSE_{service.upper()}_METRICS_HOST"] = host.address
        env.update(self.extra_env)
        return env

    def _start(self, placed: list[tuple[str, Host]]) -> None:
        started = []
        for name, host in placed:
            service = HostedService(name, host, self.env_for(name, host), self.work_dir)
            service.start()
            self.services[service.log_path.stem] = service
            started.append(service)
        for service in started:
            service.wait_ready()

    def restart(self, label: str) -> None:
        service = self.services[label]
        service.start()
        service.wait_ready()

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            if service.running():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    service.terminate(timeout=20)
        if self.nats is not None:
            self.nats.stop()
        if self.postgres is not None:
            self.postgres.stop()
        self.network.destroy()


async def count(database_url: str, query: str, *args: object) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        value: int = await conn.fetchval(query, *args)
    finally:
        await conn.close()
    return value
