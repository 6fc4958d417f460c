"""The kernel path: a real Jupyter kernel (ipykernel, started by jupyter_client with this
environment's Python) loads ``pulse_notebook`` and runs cells as JupyterLab sends them (each
execute request naming its ``cellId`` in the metadata, the notebook named by
``JPY_SESSION_NAME``); the events arrive at the endpoint, with the cells' positions in the
saved notebook."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from .conftest import KEY, FakeIngest

pytestmark = pytest.mark.integration

NOTEBOOK = "lessons/week1.ipynb"
CELLS = [
    ("intro", "markdown", ""),
    ("load", "code", "%load_ext pulse_notebook"),
    ("data", "code", "values = [3, 1, 2]"),
    ("oops", "code", "sorted(values) + None"),
    ("fixed", "code", "total = sum(sorted(values))\ntotal"),
]


@pytest.fixture
def manager(tmp_path: Path, ingest: FakeIngest) -> Iterator[KernelManager]:
    lessons = tmp_path / "lessons"
    lessons.mkdir()
    notebook = {
        "cells": [
            {"id": cell_id, "cell_type": kind, "source": source, "metadata": {}}
            for cell_id, kind, source in CELLS
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (lessons / "week1.ipynb").write_text(json.dumps(notebook))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}  # noqa: TID251
    env.update(
        PULSE_NOTEBOOK_ENDPOINT=ingest.url,
        PULSE_NOTEBOOK_KEY=KEY,
        PULSE_NOTEBOOK_STUDENT="ada@example.edu",
        PULSE_NOTEBOOK_SPOOL_DIR=str(tmp_path / "spool"),
        JPY_SESSION_NAME=NOTEBOOK,  # what jupyter_server gives a notebook's kernel
    )
    manager = KernelManager(kernel_name="python3")
    spec = manager.kernel_spec
    assert spec is not None
    spec.argv[0] = sys.executable  # this worktree's venv
    manager.start_kernel(env=env, cwd=str(lessons))
    try:
        yield manager
    finally:
        manager.shutdown_kernel(now=False)  # a clean shutdown runs the producer's atexit


@pytest.fixture
def kernel(manager: KernelManager) -> Iterator[BlockingKernelClient]:
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield client
    finally:
        client.stop_channels()


def run_cell(client: BlockingKernelClient, cell_id: str, code: str) -> dict[str, Any]:
    """Execute as JupyterLab does: the cell's id in the request's metadata."""
    content = {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
    }
    message = client.session.msg("execute_request", content, metadata={"cellId": cell_id})
    client.shell_channel.send(message)
    while True:
        reply = client.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == message["header"]["msg_id"]:
            result: dict[str, Any] = reply["content"]
            return result


def test_a_jupyter_kernel_reports_its_cells(
    kernel: BlockingKernelClient, ingest: FakeIngest
) -> None:
    replies = {cell_id: run_cell(kernel, cell_id, code) for cell_id, kind, code in CELLS[1:]}

    assert replies["oops"]["status"] == "error"
    assert replies["fixed"]["status"] == "ok"  # the notebook goes on after an error
    events = ingest.wait_for(5, within_s=30)
    assert [e["eventType"] for e in events][:1] == ["notebook_opened"]
    cells = {e["cellId"]: e for e in events if e["eventType"] == "cell_executed"}
    assert list(cells) == ["load", "data", "oops", "fixed"]
    for position, (cell_id, _, code) in enumerate(CELLS):
        if cell_id in cells:
            event = cells[cell_id]
            assert event["cellIndex"] == position  # from the saved notebook
            assert event["notebookPath"] == NOTEBOOK
            assert event["code"] == code
            assert event["userId"] == "ada@example.edu"
            assert event["metadata"]["frontend"] == "jupyter"
            assert event["executionCount"] == replies[cell_id]["execution_count"]
    assert cells["oops"]["hasError"] is True
    assert cells["oops"]["errorName"] == "TypeError"
    assert cells["fixed"]["hasError"] is False


def test_with_pulse_down_the_kernel_runs_and_a_restarted_kernel_sends_the_buffer(
    manager: KernelManager, kernel: BlockingKernelClient, ingest: FakeIngest
) -> None:
    port = ingest.port
    ingest.stop()  # Pulse is down for the whole first kernel
    for cell_id, _, code in CELLS[1:]:
        reply = run_cell(kernel, cell_id, code)
        assert reply["status"] == ("error" if cell_id == "oops" else "ok")

    manager.restart_kernel(now=False)  # the first kernel exits cleanly, events on disk
    kernel.wait_for_ready(timeout=60)
    ingest.port = port
    ingest.start()  # Pulse is back
    run_cell(kernel, "load", "%load_ext pulse_notebook")

    events = ingest.wait_for(7, within_s=30)
    kinds = sorted(e["eventType"] for e in events)
    assert kinds == ["cell_executed"] * 5 + ["kernel_restarted", "notebook_opened"]
    assert len({e["eventId"] for e in events}) == len(events)  # none doubled
    executed = [e["cellId"] for e in events if e["eventType"] == "cell_executed"]
    assert sorted(executed) == sorted(["load", "data", "oops", "fixed", "load"])
