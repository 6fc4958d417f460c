"""A real Jupyter kernel with ``pulse_notebook`` against the real stack: an instructor's class
and its producer key, cells run (one raising) and the class overview shows them; with ingest
stopped the notebook keeps running, and the buffered events arrive once ingest is back, none
lost and none doubled.

Needs the classroom pipeline (ingest's ``POST /api/v1/events``) and the class routes of the
gateway; until they are on this branch the test is an expected failure, not run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from tests.support.stack import PulseStack, bearer, eventually

NOTEBOOK = "week1.ipynb"
CELLS = [
    ("load", "%load_ext pulse_notebook"),
    ("data", "values = [3, 1, 2]"),
    ("oops", "sorted(values) + None"),
    ("fixed", "total = sum(sorted(values))"),
]


def _events_routed() -> bool:
    from pulse_ingest.http import describing_app  # noqa: PLC0415 - builds the whole app

    return any("/api/v1/events" in route.path for route in describing_app().routes)


pytestmark = [
    pytest.mark.integration,
    pytest.mark.xfail(
        not _events_routed(), reason="needs the events pipeline", strict=False, run=False
    ),
]


def run_cell(client: BlockingKernelClient, cell_id: str, code: str) -> dict[str, Any]:
    content = {"code": code, "silent": False, "store_history": True, "allow_stdin": False}
    message = client.session.msg("execute_request", content, metadata={"cellId": cell_id})
    client.shell_channel.send(message)
    while True:
        reply = client.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == message["header"]["msg_id"]:
            result: dict[str, Any] = reply["content"]
            return result


@pytest.fixture
def stack(make_stack: Any) -> PulseStack:
    pulse: PulseStack = make_stack(PULSE_GENERATOR_CLASS_STUDENTS="0")
    pulse.start(["persistence", "auth", "ingest", "gateway"])
    return pulse


async def create_class(stack: PulseStack, class_id: str) -> str:
    """The class, made by the admin; returns its producer key's secret."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            stack["gateway"].url("/api/v1/classes"),
            json={"id": class_id, "title": "Week 1", "collect_code": True},
            headers=bearer(await stack.token()),
        )
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    return secret


async def overview(stack: PulseStack, class_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        response = await client.get(
            stack["gateway"].url(f"/api/v1/classes/{class_id}/overview"),
            headers=bearer(await stack.token()),
        )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.fixture
def kernel_for(tmp_path: Path) -> Iterator[Any]:
    managers: list[KernelManager] = []

    def start(stack: PulseStack, key: str) -> BlockingKernelClient:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}  # noqa: TID251
        env.update(
            PULSE_NOTEBOOK_ENDPOINT=stack["ingest"].url("").rstrip("/"),
            PULSE_NOTEBOOK_KEY=key,
            PULSE_NOTEBOOK_STUDENT="ada@example.edu",
            PULSE_NOTEBOOK_SPOOL_DIR=str(tmp_path / "spool"),
            JPY_SESSION_NAME=NOTEBOOK,
        )
        manager = KernelManager(kernel_name="python3")
        spec = manager.kernel_spec
        assert spec is not None
        spec.argv[0] = sys.executable
        manager.start_kernel(env=env, cwd=str(tmp_path))
        managers.append(manager)
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        return client

    yield start
    for manager in managers:
        manager.shutdown_kernel(now=False)


async def test_a_notebooks_cells_reach_the_class_overview(
    stack: PulseStack, kernel_for: Any
) -> None:
    key = await create_class(stack, "week-1")
    kernel = kernel_for(stack, key)
    for cell_id, code in CELLS:
        run_cell(kernel, cell_id, code)

    async def all_stored() -> dict[str, Any] | None:
        answer = await overview(stack, "week-1")
        return answer if len(answer["cells"]) == 4 else None

    answer = await eventually(all_stored, within_s=30)
    assert answer is not None
    [student] = answer["students"]
    assert student["student_id"] == "ada@example.edu"
    assert {c["cell_id"]: c["errored"] for c in answer["cells"]} == {
        "load": 0,
        "data": 0,
        "oops": 1,
        "fixed": 0,
    }


async def test_with_ingest_stopped_the_notebook_runs_and_nothing_is_lost_or_doubled(
    stack: PulseStack, kernel_for: Any
) -> None:
    key = await create_class(stack, "week-2")
    kernel = kernel_for(stack, key)
    run_cell(kernel, "load", "%load_ext pulse_notebook")
    stack["ingest"].terminate()
    for cell_id, code in CELLS[1:]:
        assert run_cell(kernel, cell_id, code)["status"] in ("ok", "error")
    stack["ingest"].start()
    stack["ingest"].wait_ready()

    async def all_stored() -> dict[str, Any] | None:
        answer = await overview(stack, "week-2")
        return answer if len(answer["cells"]) == 4 else None

    answer = await eventually(all_stored, within_s=90)
    assert answer is not None
    assert [c["reached"] for c in answer["cells"]] == [1, 1, 1, 1]
    assert answer["students"][0]["error_count"] == 1  # the one failing run, stored once
