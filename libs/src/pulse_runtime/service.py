"""The life of a service process: start, run until SIGTERM/SIGINT, stop gracefully."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, TypeVar

import asyncpg

from .database import migrate_database
from .garbage_collection import settle_after_start, tune_collector
from .logging import configure_logging, get_logger
from .settings import CommonSettings, DatabaseSettings, settings_or_exit

log = get_logger(__name__)


class Lifecycle:
    """Signals set ``stopping``; the service's own shutdown then drains and finishes its work."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if not self.stopping.is_set():
            log.info("shutdown requested", signal=sig.name)
        self.stopping.set()


async def run_service(
    name: str,
    *,
    start: Callable[[Lifecycle], Awaitable[bool]],
    stop: Callable[[], Awaitable[None]],
    shutdown_timeout_s: float,
    lifecycle: Lifecycle | None = None,
) -> None:
    """Run ``start``, wait for a stop signal, then run ``stop`` within ``shutdown_timeout_s``.

    ``start`` returns False when the service was asked to stop before it could start.
    """
    lifecycle = lifecycle or Lifecycle()
    lifecycle.install_signal_handlers()
    try:
        if await start(lifecycle):
            settle_after_start()
            log.info("service started", service=name)
            await lifecycle.stopping.wait()
    finally:
        log.info("service stopping", service=name)
        try:
            await asyncio.wait_for(stop(), shutdown_timeout_s)
        except TimeoutError:
            log.error("shutdown timed out", service=name, timeout_s=shutdown_timeout_s)
        log.info("service stopped", service=name)


class Service(Protocol):
    async def start(self, lifecycle: Lifecycle) -> bool: ...
    async def stop(self) -> None: ...


class HasCommonSettings(Protocol):
    @property
    def common(self) -> CommonSettings: ...


SettingsT = TypeVar("SettingsT", bound=HasCommonSettings)


def _read_settings(read: Callable[[Mapping[str, str]], SettingsT]) -> SettingsT:
    """``read(os.environ)``, the one place services read the environment; a wrong value ends
    the process with one line naming the variable and the rule, and exit status 2."""
    environ = os.environ  # noqa: TID251 - the one place a service's settings are read
    return settings_or_exit(read, environ)


def service_main(
    name: str,
    read: Callable[[Mapping[str, str]], SettingsT],
    build: Callable[[SettingsT], Service],
) -> None:
    """The body of every service's ``main()``: settings (``read``, e.g. the service's
    ``Settings.from_environ``), logging, then run until a stop signal."""
    _run(name, _read_settings(read), build)


def _run(name: str, settings: SettingsT, build: Callable[[SettingsT], Service]) -> None:
    configure_logging(name, settings.common.log_level, settings.common.log_format)
    tune_collector()
    service = build(settings)
    asyncio.run(
        run_service(
            name,
            start=service.start,
            stop=service.stop,
            shutdown_timeout_s=settings.common.shutdown_timeout_s,
        )
    )


class HasDatabaseSettings(HasCommonSettings, Protocol):
    @property
    def database(self) -> DatabaseSettings: ...


DatabaseSettingsT = TypeVar("DatabaseSettingsT", bound=HasDatabaseSettings)


def service_with_migrations_main(
    name: str,
    read: Callable[[Mapping[str, str]], DatabaseSettingsT],
    build: Callable[[DatabaseSettingsT], Service],
    migrate: Callable[[asyncpg.Connection], Awaitable[list[str]]],
    argv: list[str],
) -> None:
    """``python -m pulse_<name>`` runs the service; ``… migrate`` applies its migrations and
    exits (the compose migration job)."""
    settings = _read_settings(read)
    if argv == ["migrate"]:
        configure_logging(name, settings.common.log_level, settings.common.log_format)
        asyncio.run(migrate_database(settings.database.url, migrate))
    elif argv:
        sys.exit(f"usage: python -m pulse_{name} [migrate]")
    else:
        _run(name, settings, build)
