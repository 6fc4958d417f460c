"""Shared fixtures: real servers for integration tests.

PostgreSQL: ``PULSE_TEST_DATABASE_URL`` (an existing server; the tests create and drop their
own databases on it, so the role needs CREATEDB) or, when unset, an embedded server started
once per session. NATS: a fresh embedded nats-server with JetStream per stack or test.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pulse_dev.embedded import EmbeddedNats, EmbeddedPostgres

from tests.support.stack import PulseStack, create_database, drop_database


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server URL whose role may create databases."""
    external = os.environ.get("PULSE_TEST_DATABASE_URL")  # noqa: TID251 - test configuration
    if external:
        yield external
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def database_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh database for one test, dropped afterwards."""
    url = await create_database(postgres_server_url)
    try:
        yield url
    finally:
        await drop_database(postgres_server_url, url)


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_stack(tmp_path: Path, database_url: str) -> Iterator[type[PulseStack]]:
    """Build stacks inside the test; every one is stopped at the end, even on failure."""
    stacks: list[PulseStack] = []

    def factory(*, nats_max_payload: int | None = None, **extra_env: str) -> PulseStack:
        stack = PulseStack(
            tmp_path / f"stack{len(stacks)}",
            database_url,
            extra_env,
            nats_max_payload=nats_max_payload,
        )
        stacks.append(stack)
        return stack

    yield factory  # type: ignore[misc]
    for stack in stacks:
        stack.stop()
