"""The FastStream NATS broker every service uses: named connection, endless reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any

from faststream._internal.context import Context as ContextField
from faststream.nats import NatsBroker
from faststream.nats.message import NatsMessage
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.js.api import StreamConfig
from prometheus_client import CollectorRegistry

from .logging import adopt_library_loggers, get_logger
from .settings import CommonSettings
from .streams import ensure_streams

log = get_logger(__name__)


def create_broker(
    common: CommonSettings, service: str, registry: CollectorRegistry | None = None
) -> NatsBroker:
    """A broker that reconnects forever: a NATS restart is an interruption, never an exit."""

    async def disconnected() -> None:
        log.info("nats disconnected")

    async def reconnected() -> None:
        log.info("nats reconnected")

    async def error(exc: Exception) -> None:
        log.warning("nats error", error=str(exc) or type(exc).__name__)

    middlewares = (
        (NatsPrometheusMiddleware(registry=registry, app_name=f"pulse_{service}"),)
        if registry is not None
        else ()
    )
    return NatsBroker(
        servers=common.nats_servers,
        name=f"pulse-{service}",
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        ping_interval=common.nats_ping_interval_s,
        max_outstanding_pings=2,
        disconnected_cb=disconnected,
        reconnected_cb=reconnected,
        error_cb=error,
        graceful_timeout=common.shutdown_timeout_s,
        # Per-message "Received/Processed" lines would drown everything else at info level.
        log_level=logging.DEBUG,
        middlewares=middlewares,
    )


_FLUSH_TIMEOUT_S = 5


async def start_broker(
    broker: NatsBroker, stopping: asyncio.Event, streams: list[StreamConfig] | None = None
) -> bool:
    """Connect (waiting for NATS however long it takes), ensure ``streams``, then subscribe.

    Streams come before subscribers, because a JetStream consumer needs its stream. Returns
    False when asked to stop before NATS could be reached. With endless reconnects nats-py
    keeps retrying the first connection too, so this only races that against a stop request.
    """
    connecting = asyncio.ensure_future(broker.connect())
    stop_requested = asyncio.ensure_future(stopping.wait())
    await asyncio.wait({connecting, stop_requested}, return_when=asyncio.FIRST_COMPLETED)
    stop_requested.cancel()
    if not connecting.done():
        connecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connecting
        return False
    connecting.result()
    adopt_library_loggers()  # connecting set up FastStream's own handlers again
    if streams:
        await ensure_streams(broker.config.connection_state.stream, streams)
    await broker.start()
    # nats-py sends the subscriptions from its buffer in the background: a round trip makes sure
    # the server has them before the service says it is ready (a request right after /readyz
    # answered 200 could otherwise find "no responders"). A NATS gone meanwhile is not ready
    # anyway (the nats check), and the client reconnects with its subscriptions.
    with contextlib.suppress(Exception):
        await broker.connection.flush(timeout=_FLUSH_TIMEOUT_S)
    return True


def is_connected(broker: NatsBroker) -> bool:
    try:
        return bool(broker.connection.is_connected)
    except Exception:  # not started yet
        return False


class _ContextOnTheLoop(ContextField):
    """FastStream's ``Context``, resolved on the event loop.

    fast_depends runs a custom field's synchronous ``use`` in a worker thread for every message
    an async handler takes (``run_async`` -> ``anyio.to_thread``): for a lookup in a dict. In
    ingest that thread hand-off was a third of the CPU time per message (py-spy, ``make bench
    ARGS=events``). The same lookup as a coroutine runs in place. Only for async handlers (a
    sync handler's fields are resolved synchronously, and would get the coroutine). The class
    is what ``faststream.Context()`` returns; a test fails if a message still takes a thread.
    """

    async def use(self, /, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        resolved: dict[str, Any] = super().use(**kwargs)
        return resolved


RawMessage = Annotated[NatsMessage, _ContextOnTheLoop("message")]
"""A handler parameter for the message itself, for async handlers that decode the bytes
themselves."""


async def skip_decoding(message: NatsMessage) -> None:
    """A subscriber ``decoder`` that leaves the body alone: the handler reads the raw bytes
    (to answer a bad request with a typed error, or to dead-letter it as it came)."""
    return
