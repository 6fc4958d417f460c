"""``/healthz``, ``/readyz`` and ``/metrics`` on a management port of each service.

Deliberately tiny (GET only, one request per connection): it answers probes and scrapes. It
runs in a thread of its own with its own event loop, so that a service whose loop is saturated
(ten thousand sockets connecting at once) still answers within milliseconds: a probe that times
out would restart a healthy process, and a scrape that times out hides the very storm it should
show. Liveness and metrics never touch the service's loop. Readiness asks the service's loop
(its checks may use its connections) and waits ``readiness_budget_s``; a loop too busy to answer
in time gets the last answer it gave, for up to ``STALE_READINESS_S``, then "not ready".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Awaitable, Callable, Mapping

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .logging import get_logger

log = get_logger(__name__)

ReadinessCheck = Callable[[], Awaitable[Mapping[str, bool]]]

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
STALE_READINESS_S = 10.0


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
        readiness_budget_s: float = 0.5,
    ) -> None:
        self._host = host
        self._port = port
        self._readiness = readiness
        self._registry = registry
        self._budget_s = readiness_budget_s
        self._started = False
        self._service_loop: asyncio.AbstractEventLoop | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._bound: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._last_checks: tuple[float, Mapping[str, bool]] | None = None

    def mark_started(self) -> None:
        """Readiness stays false until the service has finished starting (subscriptions made)."""
        self._started = True

    @property
    def port(self) -> int:
        """The bound port (useful when started with port 0)."""
        if self._bound.done() and self._bound.exception() is None:
            return self._bound.result()
        return self._port

    async def start(self) -> None:
        self._service_loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._serve, name="health listener", daemon=True)
        self._thread.start()
        await asyncio.wrap_future(self._bound)  # raises OSError when the port is taken
        log.info("health listener started", url=f"http://{self._host}:{self.port}/healthz")

    async def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._closing is not None:
            self._loop.call_soon_threadsafe(self._closing.set)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._listen())
        finally:
            # Requests still being answered (a probe waiting on a blocked service loop) end
            # here, on a loop still open, rather than when their coroutines are collected.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _listen(self) -> None:
        self._closing = asyncio.Event()
        try:
            server = await asyncio.start_server(self._handle, self._host, self._port)
        except OSError as exc:
            self._bound.set_exception(exc)
            return
        self._bound.set_result(int(server.sockets[0].getsockname()[1]))
        async with server:
            await self._closing.wait()

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
            checks = await self._checks()
            status, body = readiness_report({"started": self._started, **checks})
            return status, "application/json", msgspec.json.encode(body)
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)
        return 404, "application/json", b'{"code":"not_found"}'

    async def _checks(self) -> Mapping[str, bool]:
        """The service's own checks, run on its loop; the last answer while it is too busy."""
        if self._service_loop is None or self._service_loop.is_closed():
            return {"event_loop": False}
        asked = asyncio.run_coroutine_threadsafe(self._asked(), self._service_loop)
        done, _ = await asyncio.wait([asyncio.wrap_future(asked)], timeout=self._budget_s)
        if done:
            return {"event_loop": True, **done.pop().result()}
        last = self._last_checks
        if last is not None and time.monotonic() - last[0] <= STALE_READINESS_S:
            return {"event_loop": True, **last[1]}
        return {"event_loop": False, **(last[1] if last is not None else {})}

    async def _asked(self) -> Mapping[str, bool]:
        checks = await self._readiness()
        self._last_checks = (time.monotonic(), checks)
        return checks
