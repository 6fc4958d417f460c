"""compose.yaml with the test override, as one Compose project on the test's engine.

The passwords compose.yaml requires are made fresh for each run (hex: they go into URLs), as
is the first admin's; the project name and the images' tag are the run's own, so that
``down --volumes`` removes exactly what ``up`` made and two runs on one engine never share an
image.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

from .engine import DockerEngine

ROOT = Path(__file__).resolve().parents[2]
OVERRIDE = Path(__file__).resolve().parent / "compose.test.yaml"
COMPOSE_BINARY = ROOT / ".tools" / "compose" / "bin" / "docker-compose"
PASSWORDS = [
    "PULSE_DB_PASSWORD",
    "PULSE_AUTH_DB_PASSWORD",
    "PULSE_METRICS_DB_PASSWORD",
    "PULSE_NOTIFY_DB_PASSWORD",
    "PULSE_ALERTS_DB_PASSWORD",
    *(
        f"PULSE_NATS_{user}_PASSWORD"
        for user in (
            "INGEST",
            "PERSISTENCE",
            "GATEWAY",
            "AUTH",
            "NOTIFIER",
            "ALERTS",
            "GENERATOR",
            "PRODUCER",
        )
    ),
]
ADMIN_EMAIL = "admin@compose.test"


class ComposeProject:
    """``docker compose -p <name> -f compose.yaml -f tests/compose/compose.test.yaml …``"""

    def __init__(self, engine: DockerEngine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.image_tag = name
        self.admin_password = secrets.token_hex(16)
        self.env = {
            **engine.env,
            **{variable: secrets.token_hex(16) for variable in PASSWORDS},
            "PULSE_TAG": self.image_tag,
            "PULSE_ADMIN_EMAIL": ADMIN_EMAIL,
            "PULSE_ADMIN_PASSWORD": self.admin_password,
        }

    def run(self, *args: str, timeout: float) -> str:
        command = [
            str(COMPOSE_BINARY),
            "--project-name",
            self.name,
            "--project-directory",
            str(ROOT),
            "--file",
            str(ROOT / "compose.yaml"),
            "--file",
            str(OVERRIDE),
            *args,
        ]
        result = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"docker compose {' '.join(args)}: exit {result.returncode}\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
            )
        return result.stdout

    def config(self) -> dict[str, Any]:
        merged: dict[str, Any] = json.loads(self.run("config", "--format", "json", timeout=60))
        return merged

    def containers(self, service: str) -> list[dict[str, Any]]:
        """``docker compose ps`` of one service: its running replicas, each a dict."""
        output = self.run("ps", "--format", "json", service, timeout=60)
        # One JSON object a line (newer compose) or one array (older).
        text = output.strip()
        if text.startswith("["):
            rows: list[dict[str, Any]] = json.loads(text)
            return rows
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def host_port(self, service: str, port: int, index: int) -> int:
        address = self.run("port", "--index", str(index), service, str(port), timeout=60).strip()
        return int(address.rsplit(":", 1)[1])

    def logs(self, tail: int = 40) -> str:
        try:
            return self.run("logs", "--no-color", "--tail", str(tail), timeout=120)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            return f"(no logs: {exc})"
