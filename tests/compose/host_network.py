"""What the test's dockerd changes on the host, put back when it stops.

dockerd turns IPv4 forwarding on and, when it does, sets iptables' FORWARD policy to DROP:
that would cut the traffic across other bridges on the machine (tests/cluster's). So the engine
runs with ``--ip-forward=false`` (the policy is left alone) and forwarding is turned on here,
for the containers' traffic out, and back off afterwards if it was off. dockerd also leaves its
iptables chains and rules and its docker0 bridge behind when it exits: those it added are
removed. Only Docker's own (their names say DOCKER, docker0 or br-<network>) are touched.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
TABLES = ("filter", "nat")
DOCKER_MARKS = ("DOCKER", "docker0", "br-")


def _saved(table: str) -> list[str]:
    result = subprocess.run(
        ["iptables-save", "-t", table], capture_output=True, text=True, timeout=30, check=False
    )
    return result.stdout.splitlines() if result.returncode == 0 else []


def _links() -> set[str]:
    result = subprocess.run(
        ["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=30, check=False
    )
    return {line.split(":")[1].strip().split("@")[0] for line in result.stdout.splitlines()}


def _docker_owned(text: str) -> bool:
    return any(mark in text for mark in DOCKER_MARKS)


class HostNetwork:
    """``capture()`` before dockerd starts, ``restore()`` after it stopped."""

    def __init__(self) -> None:
        self.forwarding = "1"
        self.rules: dict[str, set[str]] = {}
        self.links: set[str] = set()

    def capture(self) -> None:
        self.forwarding = IP_FORWARD.read_text(encoding="ascii").strip()
        self.rules = {table: set(_saved(table)) for table in TABLES}
        self.links = _links()
        IP_FORWARD.write_text("1\n", encoding="ascii")

    def restore(self) -> None:
        for table in TABLES:
            now = _saved(table)
            added = [line for line in now if line not in self.rules[table] and _docker_owned(line)]
            for rule in reversed([line for line in added if line.startswith("-A ")]):
                spec = shlex.split(rule)[1:]
                subprocess.run(
                    ["iptables", "-t", table, "-D", *spec],
                    capture_output=True,
                    timeout=30,
                    check=False,
                )
            for chain in [line[1:].split()[0] for line in added if line.startswith(":")]:
                for action in ("-F", "-X"):
                    subprocess.run(
                        ["iptables", "-t", table, action, chain],
                        capture_output=True,
                        timeout=30,
                        check=False,
                    )
        for link in sorted(_links() - self.links):
            if _docker_owned(link):
                subprocess.run(
                    ["ip", "link", "delete", link], capture_output=True, timeout=30, check=False
                )
        IP_FORWARD.write_text(f"{self.forwarding}\n", encoding="ascii")
