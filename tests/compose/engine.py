"""A Docker engine of the test's own: dockerd (Debian's docker.io) with its own data root and
socket, started for the run and stopped after it.

Nothing here touches another Docker on the machine: the engine keeps its images, containers and
volumes under ``/var/lib/pulse-docker`` and listens only on ``/run/pulse-docker/docker.sock``.
An engine already answering on that socket (a run before that left it up, or one started by
hand) is used as it is and left running. One this object starts leaves the host's network as it
found it (host_network.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .host_network import HostNetwork

DATA_ROOT = Path("/var/lib/pulse-docker")
RUN_DIR = Path("/run/pulse-docker")
SOCKET = RUN_DIR / "docker.sock"
DOCKER_HOST = f"unix://{SOCKET}"
# Debian's docker CLI, of the engine's version: it builds with the engine's own BuildKit (no
# buildx plugin needed), which a newer CLI elsewhere on PATH would refuse to do without one.
DEBIAN_DOCKER = Path("/usr/bin/docker")


def docker_cli() -> str:
    if DEBIAN_DOCKER.is_file():
        return str(DEBIAN_DOCKER)
    found = shutil.which("docker")
    if found is None:
        raise RuntimeError("no docker CLI: install docker.io (make test-compose does)")
    return found


class DockerEngine:
    """``start()`` / ``stop()``; ``env`` points a docker or compose client at this engine."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.cli = docker_cli()
        self._process: subprocess.Popen[bytes] | None = None
        self._host = HostNetwork()

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": DOCKER_HOST, "DOCKER_BUILDKIT": "1"}  # noqa: TID251 - the CLI needs PATH, HOME

    def answers(self) -> bool:
        probe = subprocess.run(
            [self.cli, "version", "--format", "{{.Server.Version}}"],
            env=self.env,
            capture_output=True,
            timeout=20,
            check=False,
        )
        return probe.returncode == 0

    def start(self, timeout_s: float = 60.0) -> None:
        if self.answers():
            return
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise RuntimeError("no dockerd: install docker.io (make test-compose does)")
        DATA_ROOT.mkdir(parents=True, exist_ok=True)
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        self._host.capture()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    dockerd,
                    f"--data-root={DATA_ROOT}",
                    f"--exec-root={RUN_DIR / 'exec'}",
                    f"--pidfile={RUN_DIR / 'dockerd.pid'}",
                    f"--host={DOCKER_HOST}",
                    "--ip-forward=false",  # leaves iptables' FORWARD policy alone
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while not self.answers():
            if self._process.poll() is not None:
                code = self._process.returncode
                self.stop()
                raise RuntimeError(f"dockerd exited {code}: {self.log_path}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dockerd did not answer in {timeout_s:.0f} s: {self.log_path}")
            time.sleep(0.5)

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stops the engine this object started (its containers stop with it), then puts the
        host's network back."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self._host.restore()
