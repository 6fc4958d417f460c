"""The gateway: Litestar app factory and the service that runs it beside its NATS connection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from importlib.resources import files
from pathlib import Path

import uvicorn
from litestar import Litestar
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router
from prometheus_client import CollectorRegistry
from pulse_contracts import Codec
from pulse_runtime.health import ReadinessCheck
from pulse_runtime.logging import get_logger
from pulse_runtime.messaging import create_broker, is_connected, start_broker
from pulse_runtime.service import Lifecycle
from pulse_runtime.telemetry import gauge, new_registry

from . import routes
from .errors import (
    ApiError,
    api_error_handler,
    http_error_handler,
    validation_error_handler,
)
from .history import HistoryClient
from .live import LiveHub
from .settings import Settings
from .tracing import trace_requests

log = get_logger(__name__)


def static_directory() -> Path:
    return Path(str(files("pulse_gateway") / "static"))


def create_app(
    *,
    history: HistoryClient,
    hub: LiveHub,
    readiness: ReadinessCheck,
    registry: CollectorRegistry,
) -> Litestar:
    """Every route, dependency and error handler, registered in one place."""

    def provide(value: object) -> Provide:
        return Provide(lambda: value, use_cache=True, sync_to_thread=False)

    return Litestar(
        route_handlers=[
            routes.metrics_history,
            routes.live_metrics,
            routes.healthz,
            routes.readyz,
            routes.prometheus_metrics,
            create_static_files_router(
                path="/", directories=[static_directory()], html_mode=True, name="dashboard"
            ),
        ],
        dependencies={
            "history": provide(history),
            "hub": provide(hub),
            "readiness": provide(readiness),
            "registry": provide(registry),
        },
        exception_handlers={
            ApiError: api_error_handler,
            ValidationException: validation_error_handler,
            HTTPException: http_error_handler,
        },
        middleware=[trace_requests],
        openapi_config=OpenAPIConfig(title="Pulse gateway", version="1.0.0", path="/schema"),
        logging_config=None,
    )


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: the service's lifecycle owns SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class GatewayService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.codec = Codec()
        self.registry = new_registry()
        self.broker = create_broker(settings.common, "gateway", self.registry)
        self.hub: LiveHub | None = None
        self.server: _EmbeddedServer | None = None
        self._serving: asyncio.Task[None] | None = None

    async def readiness(self) -> dict[str, bool]:
        return {"nats": is_connected(self.broker)}

    async def start(self, lifecycle: Lifecycle) -> bool:
        if not await start_broker(self.broker, lifecycle.stopping):
            return False
        own = self.settings.gateway
        nats = self.broker.connection
        self.hub = LiveHub(nats, self.codec, client_queue_size=own.client_queue_size)
        self._register_live_metrics(self.hub)
        history = HistoryClient(
            nats, self.codec, timeout_s=own.query_timeout_s, max_points=own.max_query_points
        )
        app = create_app(
            history=history, hub=self.hub, readiness=self.readiness, registry=self.registry
        )
        config = uvicorn.Config(
            app,
            host=own.host,
            port=own.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            ws_ping_interval=20,
            ws_ping_timeout=20,
            timeout_graceful_shutdown=5,
        )
        self.server = _EmbeddedServer(config)
        self._serving = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._serving.done():
                self._serving.result()  # surfaces a bind failure
                return False
            await asyncio.sleep(0.05)
        log.info("gateway listening", url=f"http://{own.host}:{own.port}/")
        return True

    def _register_live_metrics(self, hub: LiveHub) -> None:
        gauge(
            self.registry, "pulse_gateway_live_channels", "NATS subscriptions for live data"
        ).set_function(hub.channel_count)
        gauge(
            self.registry, "pulse_gateway_live_clients", "Clients watching live channels"
        ).set_function(hub.client_count)
        gauge(
            self.registry,
            "pulse_gateway_live_frames_dropped",
            "Frames dropped for clients that read too slowly (since start)",
        ).set_function(hub.dropped_frames)

    async def stop(self) -> None:
        if self.server is not None and self._serving is not None:
            self.server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._serving
        if self.hub is not None:
            await self.hub.close()
        await self.broker.stop()
