"""A real HTTP server standing in for Pulse's ingest (``GET /api/v1/events/settings``,
``POST /api/v1/events``), scriptable per test: its settings, the answers it gives, and whether
it is up at all (stopped, its port refuses connections, as a Pulse that is down)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pulse_notebook.sender import EventSender
from pulse_notebook.spool import Spool
from pulse_notebook.transport import PulseEndpoint

KEY = "pk_test_class_key"


class FakeIngest:
    """Records what it receives; answers from a script, else 202."""

    def __init__(self) -> None:
        self.settings: dict[str, Any] | None = {
            "classId": "demo",
            "collectCode": True,
            "pseudonymise": False,
            "salt": None,
        }
        self.settings_status = 200
        self.answers: list[tuple[int, dict[str, str], Any]] = []
        """Scripted answers to the next POSTs: (status, headers, JSON body)."""
        self.batches: list[list[dict[str, Any]]] = []
        """Every POST body received (accepted or not)."""
        self.accepted: list[dict[str, Any]] = []
        self.post_times: list[float] = []
        self.settings_requests = 0
        self.authorizations: set[str] = set()
        self.lock = threading.Lock()
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        ingest = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any, headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                with ingest.lock:
                    ingest.authorizations.add(self.headers.get("Authorization", ""))
                    ingest.settings_requests += 1
                    status, settings = ingest.settings_status, ingest.settings
                if self.path != "/api/v1/events/settings":
                    self._answer(404, {"code": "not_found", "message": "no"}, {})
                elif status != 200 or settings is None:
                    self._answer(status, {"code": "down", "message": "not now"}, {})
                else:
                    self._answer(200, settings, {})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                batch = json.loads(self.rfile.read(length))
                with ingest.lock:
                    ingest.authorizations.add(self.headers.get("Authorization", ""))
                    ingest.batches.append(batch)
                    ingest.post_times.append(time.monotonic())
                    status, headers, body = (
                        ingest.answers.pop(0) if ingest.answers else (202, {}, None)
                    )
                    if status == 202:
                        ingest.accepted.extend(batch)
                        body = {"accepted": len(batch)}
                self._answer(status, body, headers)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.allow_reuse_address = True
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int, within_s: float = 10.0) -> list[dict[str, Any]]:
        """The accepted events, once there are at least ``count`` (or at the time-out)."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.accepted) >= count:
                    return list(self.accepted)
            time.sleep(0.02)
        with self.lock:
            return list(self.accepted)


@pytest.fixture
def ingest() -> Iterator[FakeIngest]:
    server = FakeIngest()
    server.start()
    yield server
    server.stop()


SenderFactory = Callable[..., EventSender]


@pytest.fixture
def make_sender(tmp_path: Path, ingest: FakeIngest) -> Iterator[SenderFactory]:
    """Senders on the fake ingest with fast timings; each closed at the end of the test."""
    senders: list[EventSender] = []

    def make(*, folder: Path | None = None, url: str | None = None, **options: Any) -> EventSender:
        warnings: list[str] = []
        defaults: dict[str, Any] = {
            "flush_interval_s": 0.05,
            "backoff_base_s": 0.05,
            "backoff_max_s": 0.4,
            "warn": warnings.append,
        }
        sender = EventSender(
            PulseEndpoint(url or ingest.url, KEY, timeout_s=2.0),
            Spool(folder or tmp_path / "spool", options.pop("max_bytes", 1 << 20)),
            **(defaults | options),
        )
        sender.warnings = warnings  # type: ignore[attr-defined]
        sender.start()
        senders.append(sender)
        return sender

    yield make
    for sender in senders:
        sender.close()
