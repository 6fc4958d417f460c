"""Hosts on one machine: a network namespace each, joined by veth pairs to a bridge.

The machine itself sits on the bridge too (its first address): PostgreSQL listens there and
the test reaches every host at its own address. A partition takes a host's veth down: the
host keeps running and keeps its connections open, but nothing gets through, as when a
switch port or a cable fails (a killed process, by contrast, closes its sockets at once).

Needs root (``ip netns``, ``ip link``); names carry a random tag so two runs never collide.

Traffic between hosts crosses the bridge, which iptables' FORWARD chain sees when the kernel
passes bridged frames to it (``br_netfilter``, loaded by Docker among others, which also sets
the chain's policy to DROP): the network lets its own bridge's traffic through with a rule of
its own, removed with it, so a Docker engine on the same machine cannot cut the hosts off.
"""

from __future__ import annotations

import random
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass


def ip(*args: str) -> None:
    """``ip ARGS``; a failure raises with the command's own message."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


@dataclass(frozen=True)
class Host:
    """One host: its namespace, its address on the bridge, and the machine's end of its veth."""

    name: str
    namespace: str
    address: str
    link: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside this host (``ip netns exec`` execs it: the pid is the program's)."""
        return ["ip", "netns", "exec", self.namespace, *argv]


class Network:
    """A bridge and the hosts on it; :meth:`destroy` removes everything it made."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(2)
        # A /24 out of 10.0.0.0/8 that no other run picked (the tag keeps the names apart).
        self.prefix = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"
        self.bridge = f"pb{self.tag}"
        self.address = f"{self.prefix}.1"
        self.hosts: dict[str, Host] = {}

    def create(self) -> None:
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.address}/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        self._forwarding("-I")

    def _forwarding(self, action: str) -> None:
        """Insert (``-I``) or delete (``-D``) the rule letting the bridge's own traffic through
        FORWARD; nothing when the machine has no iptables (then nothing filters it either)."""
        if shutil.which("iptables") is None:
            return
        rule = ["FORWARD", "-i", self.bridge, "-o", self.bridge, "-j", "ACCEPT"]
        subprocess.run(["iptables", "-w", action, *rule], capture_output=True, check=False)

    def add_host(self, name: str) -> Host:
        index = len(self.hosts) + 1
        host = Host(
            name=name,
            namespace=f"pulse-{self.tag}-{name}",
            address=f"{self.prefix}.{10 + index}",
            link=f"pv{self.tag}{index}",
        )
        peer = f"pn{self.tag}{index}"
        ip("netns", "add", host.namespace)
        self.hosts[name] = host
        ip("link", "add", host.link, "type", "veth", "peer", "name", peer)
        ip("link", "set", peer, "netns", host.namespace)
        ip("link", "set", host.link, "master", self.bridge)
        ip("link", "set", host.link, "up")
        ip("-n", host.namespace, "link", "set", peer, "name", "eth0")
        ip("-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        ip("-n", host.namespace, "link", "set", "eth0", "up")
        ip("-n", host.namespace, "link", "set", "lo", "up")
        return host

    def partition(self, host: Host) -> None:
        """Cut ``host`` off from every other host (and from the machine)."""
        ip("link", "set", host.link, "down")

    def heal(self, host: Host) -> None:
        ip("link", "set", host.link, "up")

    def destroy(self) -> None:
        """Deleting a namespace deletes its end of the veth pair, and with it the other end."""
        for host in self.hosts.values():
            subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)
        self._forwarding("-D")
        self.hosts.clear()
