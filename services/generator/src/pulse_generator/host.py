"""Real metrics of the machine the generator runs on (psutil)."""

from __future__ import annotations

import re
import socket

import psutil


def host_source() -> str:
    """The host name as a series token (subject-safe)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())[:64] or "host"


class HostMetrics:
    def __init__(self) -> None:
        psutil.cpu_percent(None)  # the first call only primes the counters

    def sample(self) -> dict[str, tuple[float, str]]:
        return {
            "cpu": (psutil.cpu_percent(None), "percent"),
            "mem": (psutil.virtual_memory().percent, "percent"),
        }
