"""Shared fixtures: real servers for integration tests, and the unit run's guard.

PostgreSQL: ``PULSE_TEST_DATABASE_URL`` (an existing server; the tests create and drop their
own databases on it, so the role needs CREATEDB) or, when unset, an embedded server started
once per session. NATS: a fresh embedded nats-server with JetStream per stack or test.

The unit run (``make test-unit``: ``pytest --unit``, or any ``-m "not integration"``) starts
no server. A test not marked ``integration`` that asks for one of the server fixtures below,
or starts an embedded server, a service process or a Jupyter kernel itself, fails there,
saying to mark it: the run stays under a minute because nothing slips in unknowingly.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pulse_dev.embedded import EmbeddedNats, EmbeddedPostgres

from tests.support.stack import PulseStack, ServiceProcess, create_database, drop_database

SERVER_FIXTURES = {
    "postgres_server_url": "PostgreSQL",
    "database_url": "PostgreSQL",
    "nats_server": "a nats-server",
    "make_stack": "Pulse's services, a nats-server and PostgreSQL",
}
"""The fixtures here that start servers, and what they start."""
SERVER_PROGRAMS = {
    "nats-server": "a nats-server",
    "postgres": "PostgreSQL",
    "chromium": "a browser",
}
"""Programs a test might start by hand; ``nats-server -t`` only checks a configuration."""
MARK_IT = (
    "mark it integration (pytestmark = pytest.mark.integration): the unit run starts no servers"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--unit",
        action="store_true",
        help="only the tests that need no servers (-m 'not integration'); one that starts a "
        "server anyway fails, asking to be marked integration",
    )
    parser.addoption(
        "--cluster",
        action="store_true",
        help="run tests/cluster (make test-cluster): Pulse on network namespaces with a 3-node"
        " NATS cluster, as root; every other run leaves those tests out",
    )
    parser.addoption(
        "--compose",
        action="store_true",
        help="run tests/compose (make test-compose): compose.yaml on a Docker engine of its"
        " own, as root; every other run leaves those tests out",
    )
    parser.addoption(
        "--compose-results",
        default="",
        help="with --compose: write the run's timings and image sizes to this JSON file",
    )
    parser.addoption(
        "--cluster-results",
        default="",
        help="with --cluster: write each scenario's counts to this JSON file",
    )


def is_unit_run(config: pytest.Config) -> bool:
    return bool(config.getoption("unit")) or "not integration" in (config.option.markexpr or "")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("unit"):
        chosen = config.option.markexpr
        config.option.markexpr = f"({chosen}) and not integration" if chosen else "not integration"
    if is_unit_run(config):
        from jupyter_client.manager import AsyncKernelManager, KernelManager  # noqa: PLC0415

        refusals = pytest.MonkeyPatch()
        config.add_cleanup(refusals.undo)
        for owner, method, what in (
            (EmbeddedNats, "start", "a nats-server"),
            (EmbeddedPostgres, "start", "PostgreSQL"),
            (ServiceProcess, "start", "a Pulse service process"),
            (KernelManager, "start_kernel", "a Jupyter kernel"),
            (AsyncKernelManager, "start_kernel", "a Jupyter kernel"),
        ):
            refusals.setattr(owner, method, _refused(what))
        refusals.setattr(subprocess.Popen, "__init__", _without_servers(subprocess.Popen.__init__))


def _without_servers(start: Callable[..., None]) -> Callable[..., None]:
    def start_unless_a_server(process: Any, args: Any, *rest: Any, **options: Any) -> None:
        argv = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
        program = Path(os.fsdecode(argv[0]).split()[0]).name if argv else ""
        if program in SERVER_PROGRAMS and not (program == "nats-server" and "-t" in argv):
            pytest.fail(f"this test starts {SERVER_PROGRAMS[program]}: {MARK_IT}", pytrace=False)
        start(process, args, *rest, **options)

    return start_unless_a_server


def _refused(what: str) -> Callable[..., Any]:
    def start(*_args: Any, **_kwargs: Any) -> Any:
        pytest.fail(f"this test starts {what}: {MARK_IT}", pytrace=False)

    return start


CLUSTER_TESTS = Path(__file__).resolve().parent / "tests" / "cluster"
COMPOSE_TESTS = Path(__file__).resolve().parent / "tests" / "compose"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """tests/cluster and tests/compose run only when asked for (``--cluster``, ``--compose``):
    they need root and minutes of their own (``make test-cluster``, ``make test-compose``,
    after ``make test`` in CI)."""
    left_out = [
        folder
        for folder, option in ((CLUSTER_TESTS, "cluster"), (COMPOSE_TESTS, "compose"))
        if not config.getoption(option)
    ]
    if not left_out:
        return
    kept = [item for item in items if not any(f in item.path.parents for f in left_out)]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before any fixture of the test is set up: its server fixtures, asked for by the test or
    by the fixtures it uses."""
    if not is_unit_run(item.config) or item.get_closest_marker("integration"):
        return
    fixtures = getattr(item, "fixturenames", ())
    servers = [f"{name} ({SERVER_FIXTURES[name]})" for name in fixtures if name in SERVER_FIXTURES]
    if servers:
        pytest.fail(f"this test asks for {', '.join(servers)}: {MARK_IT}", pytrace=False)


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
