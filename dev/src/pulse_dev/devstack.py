"""``make run``: the whole platform on one machine, no Docker.

Starts embedded NATS (JetStream) and PostgreSQL unless ``PULSE_NATS_URL`` /
``PULSE_DATABASE_URL`` point elsewhere, applies migrations, runs every service as its own
process with service-prefixed log lines, and prints where to open the dashboard. Ctrl-C or
SIGTERM stops the services (producers first), then the servers, leaving no process behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

import msgspec
import psutil
from pulse_runtime.settings import Port, load_settings, settings_or_exit

from .embedded import EmbeddedNats, EmbeddedPostgres, free_port

# Start order. They stop in tiers, the reverse of this: the producer first, then the services
# that take requests, then persistence, which drains what they accepted.
SERVICES = ("persistence", "auth", "notifier", "alerts", "ingest", "gateway", "generator")
STOP_TIERS = (
    ("generator",),
    ("gateway", "ingest", "alerts"),
    ("notifier",),
    ("auth",),
    ("persistence",),
)
MIGRATIONS = ("persistence", "auth", "notifier", "alerts")
_COLORS = {
    "persistence": 35,
    "auth": 34,
    "notifier": 94,
    "alerts": 31,
    "ingest": 36,
    "gateway": 32,
    "generator": 33,
    "devstack": 1,
}
DEFAULT_ADMIN_EMAIL = "admin@pulse.local"
_MAX_RESTARTS = 5
_RESTART_WINDOW_S = 60.0
_SERVICE_STOP_TIMEOUT_S = 25.0  # a little over a service's own shutdown timeout (20 s)


class DevStackSettings(msgspec.Struct, frozen=True, kw_only=True):
    """``PULSE_*`` values the supervisor itself needs; the rest pass through to the services."""

    nats_url: str = ""
    database_url: str = ""
    data_dir: str = ".data"
    gateway_host: str = "127.0.0.1"
    gateway_port: Port = 8000
    admin_email: str = ""
    admin_password: str = ""


class AdminCredentials(msgspec.Struct, frozen=True):
    email: str
    password: str


def first_admin(
    settings: DevStackSettings, data: Path, say: Callable[[str], None]
) -> AdminCredentials:
    """The first admin's credentials: from settings, else generated once and kept in ``data``.

    A generated password is printed this once; afterwards it is only in the file (mode 600).
    """
    if settings.admin_email and settings.admin_password:
        return AdminCredentials(settings.admin_email, settings.admin_password)
    path = data / "admin-credentials.json"
    if path.exists():
        return msgspec.json.decode(path.read_bytes(), type=AdminCredentials)
    credentials = AdminCredentials(
        settings.admin_email or DEFAULT_ADMIN_EMAIL, secrets.token_urlsafe(18)
    )
    path.touch(mode=0o600)
    path.write_bytes(msgspec.json.encode(credentials))
    say(f"first admin: {credentials.email}  password: {credentials.password}")
    say(f"(shown only this once; kept in {path})")
    return credentials


class _Leftovers:
    """Processes of a ``make run`` that was killed (SIGKILL, a closed terminal) before it could
    stop them: recorded at start, ended by the next run so ports and data are free again."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def record(self, pids: list[int]) -> None:
        entries = []
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                entries.append({"pid": pid, "started": psutil.Process(pid).create_time()})
        self._path.write_bytes(msgspec.json.encode(entries))

    def end_all(self, say: Callable[[str], None]) -> None:
        """End the leftovers: services first, then PostgreSQL (fast shutdown), then NATS."""
        if not self._path.exists():
            return
        entries = msgspec.json.decode(self._path.read_bytes(), type=list[dict[str, float]])
        survivors = []
        for entry in entries:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(int(entry["pid"]))
                if process.create_time() == entry["started"] and _alive(process):
                    survivors.append(process)
        # Recorded servers first, services after: reversed, so services stop before servers.
        for process in reversed(survivors):
            say(f"ending pid {process.pid} left over from an earlier run ({process.name()})")
            with contextlib.suppress(psutil.Error):
                # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client.
                is_postgres = process.name() == "postgres"
                process.send_signal(signal.SIGINT if is_postgres else signal.SIGTERM)
            _wait_gone(process, timeout=15)
        self._path.unlink()


def _alive(process: psutil.Process) -> bool:
    """Running and not a zombie: an orphan that exited may never be reaped here."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_gone(process: psutil.Process, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _alive(process) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(process):
        with contextlib.suppress(psutil.Error):
            process.kill()


class _Output:
    """One lock so that lines from different services never interleave mid-line."""

    def __init__(self, color: bool) -> None:
        self._lock = threading.Lock()
        self._color = color
        self._width = max(len(name) for name in _COLORS)

    def line(self, who: str, text: str) -> None:
        label = who.ljust(self._width)
        if self._color:
            label = f"\033[{_COLORS.get(who, 0)}m{label}\033[0m"
        with self._lock:
            sys.stdout.write(f"{label} | {text}\n")
            sys.stdout.flush()


class _ServiceProcess:
    def __init__(self, name: str, env: Mapping[str, str], out: _Output) -> None:
        self.name = name
        self._env = dict(env)
        self._out = out
        self.process: subprocess.Popen[bytes] | None = None
        self._restarts: list[float] = []

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"pulse_{self.name}"],
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops us in order
        )
        threading.Thread(target=self._pump, args=(self.process,), daemon=True).start()

    def _pump(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self._out.line(self.name, raw.decode(errors="replace").rstrip())

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def may_restart(self) -> bool:
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < _RESTART_WINDOW_S]
        self._restarts.append(now)
        return len(self._restarts) <= _MAX_RESTARTS

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        """Wait until ``deadline`` (monotonic), then kill: one stuck service must not hold all."""
        if self.process is None:
            return
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self._out.line("devstack", f"{self.name} did not stop in time; killing it")
            self.process.kill()
            self.process.wait()


class _StopRequest:
    """Set from a signal handler, so it takes no lock: a handler runs on the main thread between
    two bytecodes, possibly while that thread holds the very lock it would wait for (printing a
    line, or inside ``threading.Event.wait``), and would then wait forever."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def set(self, signum: int) -> None:
        self.signum = signum

    def is_set(self) -> bool:
        return self.signum is not None

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds, waking soon after a stop is requested."""
        deadline = time.monotonic() + timeout
        while not self.is_set() and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(0.05, left))
        return self.is_set()


class DevStack:
    def __init__(
        self, settings: DevStackSettings, environ: Mapping[str, str], out: _Output
    ) -> None:
        self.settings = settings
        self._environ = dict(environ)
        self._out = out
        self._data = Path(settings.data_dir).resolve()
        self._nats: EmbeddedNats | None = None
        self._postgres: EmbeddedPostgres | None = None
        self._services: list[_ServiceProcess] = []
        self._stop = _StopRequest()

    def say(self, text: str) -> None:
        self._out.line("devstack", text)

    def request_stop(self, signum: int, _frame: object) -> None:
        """The SIGINT/SIGTERM handler: only records the request (see _StopRequest)."""
        self._stop.set(signum)

    def run(self) -> int:
        self._data.mkdir(parents=True, exist_ok=True)
        with (self._data / "devstack.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.say(f"another `make run` is already using {self._data}; stop it first")
                return 1
            leftovers = _Leftovers(self._data / "devstack.pids")
            leftovers.end_all(self.say)
            try:
                env = self._start_servers()
                leftovers.record(self._pids())
                self._migrate(env)
                for name in SERVICES:
                    service = _ServiceProcess(name, env, self._out)
                    service.start()
                    self._services.append(service)
                leftovers.record(self._pids())
                self._announce_when_ready()
                return self._supervise()
            finally:
                if self._stop.signum is not None:
                    name = signal.Signals(self._stop.signum).name
                    self.say(f"{name} received: stopping everything…")
                self._shutdown()

    def _pids(self) -> list[int]:
        servers = [server.pid for server in (self._nats, self._postgres) if server is not None]
        services = [s.process.pid for s in self._services if s.process is not None]
        return [pid for pid in (*servers, *services) if pid is not None]

    def _start_servers(self) -> dict[str, str]:
        env = dict(self._environ)
        env.setdefault("PULSE_LOG_FORMAT", "console")
        env.setdefault("PYTHONUNBUFFERED", "1")
        # The dashboard `make run` built, and a refresh cookie the browser keeps over plain
        # http on loopback (a Secure cookie needs https).
        dashboard = Path("services/dashboard/dist").resolve()
        env.setdefault("PULSE_GATEWAY_DASHBOARD_DIR", str(dashboard))
        env.setdefault("PULSE_GATEWAY_COOKIE_SECURE", "false")
        # Audit batches NATS did not take wait beside the embedded servers' data.
        env.setdefault("PULSE_AUDIT_SPOOL_DIR", str(self._data / "audit-spool"))
        nats_url = self.settings.nats_url
        if not nats_url:
            self._nats = EmbeddedNats(self._data / "nats", port=_preferred_port(4222))
            self._nats.start()
            nats_url = self._nats.url
            self.say(f"embedded NATS with JetStream at {nats_url} (data in {self._data / 'nats'})")
        database_url = self.settings.database_url
        if not database_url:
            self._postgres = EmbeddedPostgres(self._data / "postgres", port=_preferred_port(5432))
            self._postgres.start()
            database_url = self._postgres.url
            self.say(f"embedded PostgreSQL at {database_url} (data in {self._data / 'postgres'})")
        env["PULSE_NATS_URL"] = nats_url
        env["PULSE_DATABASE_URL"] = database_url
        admin = first_admin(self.settings, self._data, self.say)
        env["PULSE_ADMIN_EMAIL"] = admin.email
        env["PULSE_ADMIN_PASSWORD"] = admin.password
        return env

    def _migrate(self, env: Mapping[str, str]) -> None:
        self.say("applying migrations…")
        for owner in MIGRATIONS:
            result = subprocess.run(
                [sys.executable, "-m", f"pulse_{owner}", "migrate"],
                env=dict(env),
                capture_output=True,
                text=True,
                check=False,
            )
            for line in (result.stdout + result.stderr).splitlines():
                self._out.line(owner, line)
            if result.returncode != 0:
                raise SystemExit(f"{owner} migrations failed; see the lines above")

    def _announce_when_ready(self) -> None:
        url = f"http://{self.settings.gateway_host}:{self.settings.gateway_port}/"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self._stop.is_set():
            try:
                with urllib.request.urlopen(url + "readyz", timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        self.say(f"Pulse is running: open {url}  (Ctrl-C stops it)")
                        return
            except OSError:
                pass
            self._stop.wait(0.3)
        if not self._stop.is_set():
            self.say(f"the gateway is not ready after 60 s; it should be at {url}")

    def _supervise(self) -> int:
        while not self._stop.wait(0.5):
            for service in self._services:
                code = service.exited()
                if code is None:
                    continue
                if not service.may_restart():
                    self.say(f"{service.name} keeps exiting (last code {code}); stopping")
                    return 1
                self.say(f"{service.name} exited with code {code}; restarting")
                service.start()
                _Leftovers(self._data / "devstack.pids").record(self._pids())
        return 0

    def _shutdown(self) -> None:
        started = time.monotonic()
        by_name = {service.name: service for service in self._services}
        for tier in STOP_TIERS:
            services = [by_name[name] for name in tier if name in by_name]
            for service in services:
                service.terminate()
            deadline = time.monotonic() + _SERVICE_STOP_TIMEOUT_S
            for service in services:
                service.wait(deadline)
        if self._services:
            self.say(f"services stopped in {time.monotonic() - started:.1f} s")
        if self._postgres is not None:
            self._postgres.stop()
            self.say("PostgreSQL stopped")
        if self._nats is not None:
            self._nats.stop()
            self.say("NATS stopped")


def _preferred_port(port: int) -> int:
    """The usual port when it is free, else any free one (another server may be running)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return free_port()
    return port


def main() -> None:
    environ = os.environ  # noqa: TID251 - the supervisor reads its settings once, here
    settings = settings_or_exit(lambda env: load_settings(DevStackSettings, "PULSE_", env), environ)
    stack = DevStack(settings, environ, _Output(color=sys.stdout.isatty()))
    signal.signal(signal.SIGINT, stack.request_stop)
    signal.signal(signal.SIGTERM, stack.request_stop)
    sys.exit(stack.run())


if __name__ == "__main__":
    main()
