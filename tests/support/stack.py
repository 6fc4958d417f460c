"""Real Pulse processes on a real nats-server (JetStream) and a real PostgreSQL, for tests.

Each :class:`PulseStack` gets its own NATS server (stream names are global to a server) and
its own database on the shared PostgreSQL server, so stacks never see each other's data.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from nats.aio.client import Client
from pulse_contracts import Codec
from pulse_contracts.accounts import ApiKeyCreated, CreateApiKey, Scope
from pulse_dev.embedded import EmbeddedNats, free_port
from pulse_runtime.access_tokens import SigningKey
from pulse_runtime.auth_client import AuthClient

T = TypeVar("T")
READY_TIMEOUT_S = 60.0
MAX_PORT_RETRIES = 3
_TAKEN_PORT = re.compile(r"bind on address \('[^']*', (\d+)\): address already in use")
DASHBOARD_DIST = Path(__file__).resolve().parents[2] / "services" / "dashboard" / "dist"
ADMIN_EMAIL = "admin@pulse.test"
ADMIN_PASSWORD = "correct horse battery staple"
HTTP_PORT_VARIABLE = {
    "auth": "PULSE_AUTH_PORT",
    "generator": "PULSE_GENERATOR_PORT",
    "ingest": "PULSE_INGEST_PORT",
    "persistence": "PULSE_PERSISTENCE_PORT",
    "gateway": "PULSE_GATEWAY_PORT",
    "notifier": "PULSE_NOTIFIER_PORT",
    "alerts": "PULSE_ALERTS_PORT",
}


def database_url_for(server_url: str, database: str) -> str:
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def create_database(server_url: str) -> str:
    """A fresh, uniquely named database on ``server_url``'s server; returns its URL."""
    name = f"pulse_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return database_url_for(server_url, name)


async def drop_database(server_url: str, database_url: str) -> None:
    name = urlsplit(database_url).path.lstrip("/")
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class ServiceProcess:
    """One ``python -m pulse_<name>`` child, its output kept in a log file for failures."""

    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path, label: str = "") -> None:
        self.name = name
        self.env = dict(env)
        self.port = int(self.env[HTTP_PORT_VARIABLE[name]])
        self.log_path = log_dir / f"{label or name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"pulse_{self.name}"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        restarts = 0
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                if restarts < MAX_PORT_RETRIES and self._move_off_a_taken_port():
                    restarts += 1  # free_port() raced another process for its port
                    self.start()
                    continue
                raise RuntimeError(f"{self.name} exited early:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url("/readyz"), timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready in {timeout} s:\n{self.output()}")

    def _move_off_a_taken_port(self) -> bool:
        """When the process died binding a port someone took since ``free_port()`` chose it,
        give that port's variable a fresh one; False when that is not why it died."""
        taken = _TAKEN_PORT.findall(self.output())
        if not taken:
            return False
        port = taken[-1]
        moved = False
        for variable, value in self.env.items():
            if variable.startswith("PULSE_") and variable.endswith("_PORT") and value == port:
                self.env[variable] = str(free_port())
                moved = True
        self.port = int(self.env[HTTP_PORT_VARIABLE[self.name]])
        return moved

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM and wait: a graceful stop returns 0."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""


def devstack_env(data_dir: Path, gateway_port: int) -> dict[str, str]:
    """The environment for ``python -m pulse_dev.devstack`` (what ``make run`` starts) on
    ``data_dir``: no inherited ``PULSE_*``, free ports for everything but NATS and PostgreSQL
    (the supervisor picks those), JSON logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}  # noqa: TID251
    env.update(
        PULSE_DATA_DIR=str(data_dir),
        PULSE_GATEWAY_PORT=str(gateway_port),
        PULSE_INGEST_PORT=str(free_port()),
        PULSE_PERSISTENCE_PORT=str(free_port()),
        PULSE_GENERATOR_PORT=str(free_port()),
        PULSE_AUTH_PORT=str(free_port()),
        PULSE_NOTIFIER_PORT=str(free_port()),
        PULSE_ALERTS_PORT=str(free_port()),
        PULSE_GATEWAY_METRICS_PORT=str(free_port()),
        PULSE_INGEST_METRICS_PORT=str(free_port()),
        PULSE_LOG_FORMAT="json",
    )
    return env


class PulseStack:
    """A NATS server of its own, a database of its own, and any Pulse services on them."""

    def __init__(
        self,
        work_dir: Path,
        database_url: str,
        extra_env: Mapping[str, str],
        *,
        nats_max_payload: int | None = None,
    ) -> None:
        self.work_dir = work_dir
        self.nats = EmbeddedNats(work_dir / "nats", max_payload=nats_max_payload)
        self.database_url = database_url
        self.extra_env = dict(extra_env)
        self.services: dict[str, ServiceProcess] = {}
        self._token: str | None = None

    async def token(self) -> str:
        """The first admin's access token (logged in once per stack)."""
        if self._token is None:
            self._token = await login(self)
        return self._token

    @property
    def nats_url(self) -> str:
        return self.nats.url

    def base_env(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()  # noqa: TID251 - tests pass PATH etc. through
            if not key.startswith("PULSE_")
        }
        env.update(
            PULSE_NATS_URL=self.nats.url,
            PULSE_DATABASE_URL=self.database_url,
            PULSE_LOG_FORMAT="json",
            PULSE_LOG_LEVEL="info",
            PYTHONUNBUFFERED="1",
        )
        management = ("PULSE_GATEWAY_METRICS_PORT", "PULSE_INGEST_METRICS_PORT")
        for variable in (*HTTP_PORT_VARIABLE.values(), *management):
            env[variable] = str(free_port())
        env.update(
            PULSE_ADMIN_EMAIL=ADMIN_EMAIL,
            PULSE_ADMIN_PASSWORD=ADMIN_PASSWORD,
            PULSE_GATEWAY_COOKIE_SECURE="false",  # the tests speak plain http
            PULSE_GATEWAY_DASHBOARD_DIR=str(DASHBOARD_DIST),
            # Each stack's audit spools in its own directory, never the repository's .data.
            PULSE_AUDIT_SPOOL_DIR=str(self.work_dir / "audit-spool"),
        )
        env.update(self.extra_env)
        return env

    def start(self, names: Iterable[str], env: Mapping[str, str] | None = None) -> None:
        self.nats.start()  # a no-op when it is already running
        base = self.base_env() | dict(env or {})
        started = []
        for name in names:
            service = ServiceProcess(name, base, self.work_dir)
            service.start()
            self.services[name] = service
            started.append(service)
        for service in started:
            service.wait_ready()

    def start_replica(self, name: str, label: str, env: Mapping[str, str] | None = None) -> None:
        """Another process of service ``name`` on ports of its own, as ``self[label]``."""
        base = self.base_env() | dict(env or {})
        service = ServiceProcess(name, base, self.work_dir, label)
        service.start()
        self.services[label] = service
        service.wait_ready()

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def stop(self) -> dict[str, int]:
        codes = {}
        for name in reversed(list(self.services)):
            service = self.services[name]
            if service.process is not None and service.process.poll() is None:
                codes[name] = service.terminate()
        self.nats.stop()
        return codes


async def eventually(
    check: Callable[[], Awaitable[T]], within_s: float = 20.0, interval_s: float = 0.2
) -> T:
    """Await ``check()`` until it returns something truthy; the last value on time-out."""
    deadline = time.monotonic() + within_s
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval_s)


async def login(stack: PulseStack, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> str:
    """An access token from the gateway (the stack needs auth and gateway running)."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            stack["gateway"].url("/api/v1/auth/login"),
            json={"email": email, "password": password},
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_api_key(stack: PulseStack, scopes: list[str]) -> tuple[str, str]:
    """An API key made through the gateway's admin API: its id and its secret."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            stack["gateway"].url("/api/v1/admin/api-keys"),
            headers=bearer(await stack.token()),
            json={"name": "test producer", "scopes": scopes},
        )
    assert response.status_code == 201, response.text
    body = response.json()
    return body["api_key"]["id"], body["secret"]


async def stored_rows(database_url: str, name: str) -> int:
    """How many points of the metric ``name`` are stored (the unique key on (series, time)
    already rules out one stored twice: compare :func:`stored_points` with what was sent)."""
    conn = await asyncpg.connect(database_url)
    try:
        total: int = await conn.fetchval(
            "SELECT count(*) FROM metrics m JOIN series s ON s.id = m.series_id WHERE s.name = $1",
            name,
        )
    finally:
        await conn.close()
    return total


StoredPoint = tuple[str, datetime, float]


async def stored_points(database_url: str, name: str) -> list[StoredPoint]:
    """Every stored point of the metric ``name`` as (source, time, value), sorted."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT s.source, m.time, m.value FROM metrics m JOIN series s ON s.id = m.series_id"
            " WHERE s.name = $1",
            name,
        )
    finally:
        await conn.close()
    return sorted((row["source"], row["time"], row["value"]) for row in rows)


async def signing_key(database_url: str, kid: str) -> SigningKey:
    """Auth's private signing key ``kid``, read from the stack's database (auth keeps it in
    ``auth.signing_keys``): tests sign tokens that differ from real ones in one claim only."""
    conn = await asyncpg.connect(database_url)
    try:
        pem = await conn.fetchval("SELECT private_pem FROM auth.signing_keys WHERE kid = $1", kid)
    finally:
        await conn.close()
    assert pem is not None, f"no signing key {kid!r} in auth.signing_keys"
    return SigningKey.from_pem(kid, str(pem).encode())


# --- the classroom ---------------------------------------------------------------------------


async def create_class_key(
    stack: PulseStack, class_id: str | None, scopes: tuple[Scope, ...] = ("ingest:events",)
) -> str:
    """The secret of a new API key naming ``class_id`` (or no class), made by asking auth
    directly (the classes' own routes make such keys; these tests need only the key)."""
    nc = Client()
    await nc.connect(stack.nats_url)
    try:
        created = await AuthClient(nc, Codec()).call(
            CreateApiKey(name=f"{class_id} producer", scopes=list(scopes), class_id=class_id),
            ApiKeyCreated,
        )
    finally:
        await nc.drain()
    return created.secret


async def class_rows(database_url: str, table: str, class_id: str) -> int:
    """How many rows of a classroom table belong to ``class_id``."""
    conn = await asyncpg.connect(database_url)
    try:
        total: int = await conn.fetchval(
            f"SELECT count(*) FROM {table} WHERE class_id = $1",
            class_id,
        )
    finally:
        await conn.close()
    return total
