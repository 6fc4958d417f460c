"""``/healthz``, ``/readyz`` and ``/metrics`` for services that have no HTTP server of their own.

Deliberately tiny (GET only, one request per connection): it answers probes and scrapes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .logging import get_logger

log = get_logger(__name__)

ReadinessCheck = Callable[[], Awaitable[Mapping[str, bool]]]

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def readiness_report(checks: Mapping[str, bool]) -> tuple[int, dict[str, object]]:
    """The status and body of ``/readyz``: 200 when every check passes, else 503."""
    ready = all(checks.values())
    return (200 if ready else 503), {
        "status": "ready" if ready else "not_ready",
        "checks": dict(checks),
    }


class HealthListener:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        readiness: ReadinessCheck,
        registry: CollectorRegistry,
    ) -> None:
        self._host = host
        self._port = port
        self._readiness = readiness
        self._registry = registry
        self._server: asyncio.Server | None = None
        self._started = False

    def mark_started(self) -> None:
        """Readiness stays false until the service has finished starting (subscriptions made)."""
        self._started = True

    @property
    def port(self) -> int:
        """The bound port (useful when started with port 0)."""
        if self._server is None:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self._host, self._port)
        log.info("health listener started", url=f"http://{self._host}:{self.port}/healthz")

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass
            method, _, rest = request_line.decode("latin-1").partition(" ")
            path = rest.split(" ", 1)[0].split("?", 1)[0]
            status, content_type, body = await self.respond(method, path)
            writer.write(
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def respond(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return 405, "application/json", b'{"code":"method_not_allowed"}'
        if path == "/healthz":
            return 200, "application/json", b'{"status":"ok"}'
        if path == "/readyz":
            status, body = readiness_report({"started": self._started, **(await self._readiness())})
            return status, "application/json", msgspec.json.encode(body)
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)
        return 404, "application/json", b'{"code":"not_found"}'
