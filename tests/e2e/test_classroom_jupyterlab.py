"""The classroom chain as specified, end to end in Chromium: a cell executed in a real
JupyterLab (started by this test, its kernels loading ``pulse_notebook`` with the class's key)
→ ingest → JetStream → persistence → the instructor's class page, live → a page reload shows
the same picture from the stored history (services/dashboard/e2e/jupyterlab.e2e.mjs)."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pulse_dev.embedded import free_port

from tests.support.stack import DASHBOARD_DIST, PulseStack, bearer, login

DASHBOARD = DASHBOARD_DIST.parent
SCRIPT = DASHBOARD / "e2e" / "jupyterlab.e2e.mjs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCRIPT_TIMEOUT_S = 240
INSTRUCTOR_EMAIL = "lab-teacher@pulse.test"
INSTRUCTOR_PASSWORD = "a long enough password"
CLASS_ID = "lab-e2e"
STUDENT = "grace@pulse.test"
NOTEBOOK = "lesson1.ipynb"
CELLS = ["%load_ext pulse_notebook", "x = 41 + 1\nx", "x / 0"]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Chromium is not installed (make test installs it)"
    ),
    pytest.mark.timeout(SCRIPT_TIMEOUT_S + 120),
]


@pytest.fixture
async def stack(make_stack: Any) -> PulseStack:
    if not (DASHBOARD_DIST / "index.html").is_file():
        pytest.fail("the dashboard is not built: run `make dashboard` (make test does)")
    stack: PulseStack = make_stack(PULSE_GENERATOR_CLASS_STUDENTS="0")
    stack.start(["auth", "ingest", "persistence", "gateway"])
    return stack


async def create_class(stack: PulseStack) -> str:
    """The instructor (made by the admin) creates the class; returns its key's secret."""
    async with httpx.AsyncClient() as client:
        made = await client.post(
            stack["gateway"].url("/api/v1/admin/users"),
            headers=bearer(await stack.token()),
            json={"email": INSTRUCTOR_EMAIL, "password": INSTRUCTOR_PASSWORD, "role": "instructor"},
        )
        assert made.status_code == 201, made.text
        token = await login(stack, INSTRUCTOR_EMAIL, INSTRUCTOR_PASSWORD)
        created = await client.post(
            stack["gateway"].url("/api/v1/classes"),
            headers=bearer(token),
            json={"id": CLASS_ID, "title": "Lesson 1 in JupyterLab"},
        )
    assert created.status_code == 201, created.text
    secret: str = created.json()["secret"]
    return secret


def write_notebook(folder: Path) -> None:
    cells: list[dict[str, object]] = [
        {
            "id": f"cell-{n}",
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": source,
        }
        for n, source in enumerate(CELLS)
    ]
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": kernel}}
    (folder / NOTEBOOK).write_text(json.dumps(notebook | {"cells": cells}))


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[Any]:
    """Starts JupyterLab on a free port; its kernels report to Pulse with the given key."""
    started: list[subprocess.Popen[bytes]] = []

    def start(stack: PulseStack, key: str) -> str:
        root = tmp_path / "lab"
        root.mkdir()
        write_notebook(root)
        port, token = free_port(), secrets.token_hex(16)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}  # noqa: TID251 - the kernels' environment
        env.update(
            PULSE_NOTEBOOK_ENDPOINT=stack["ingest"].url("").rstrip("/"),
            PULSE_NOTEBOOK_KEY=key,
            PULSE_NOTEBOOK_STUDENT=STUDENT,
            PULSE_NOTEBOOK_SPOOL_DIR=str(tmp_path / "spool"),
            JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
            JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
        )
        log = (tmp_path / "jupyterlab.log").open("wb")
        lab = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--allow-root",
                "--ip=127.0.0.1",
                f"--port={port}",
                f"--ServerApp.token={token}",
                f"--ServerApp.root_dir={root}",
                "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            ],
            env=env,
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(lab)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/status?token={token}", timeout=2).status_code == 200:
                    return f"{base}/lab/tree/{NOTEBOOK}?token={token}"
            except httpx.HTTPError:
                pass
            assert lab.poll() is None, (tmp_path / "jupyterlab.log").read_text()
            time.sleep(0.5)
        pytest.fail("JupyterLab did not start:\n" + (tmp_path / "jupyterlab.log").read_text())

    yield start
    for lab in started:
        lab.terminate()
        try:
            lab.wait(20)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait()


async def what_pulse_stored(stack: PulseStack, tmp_path: Path) -> str:
    """For a failure's message: the class feed Pulse stored, the producer's spool and the tail
    of JupyterLab's log (where the extension's one-line warnings go)."""
    token = await login(stack, INSTRUCTOR_EMAIL, INSTRUCTOR_PASSWORD)
    async with httpx.AsyncClient() as client:
        feed = await client.get(
            stack["gateway"].url(f"/api/v1/classes/{CLASS_ID}/feed"), headers=bearer(token)
        )
    spool = sorted(p.name for p in (tmp_path / "spool").glob("**/*"))
    log = (tmp_path / "jupyterlab.log").read_text(errors="replace")[-3000:]
    return (
        f"\n--- stored feed: {feed.status_code} {feed.text[:2000]}"
        f"\n--- spool: {spool}\n--- lab log:\n{log}"
    )


async def test_a_cell_run_in_jupyterlab_reaches_the_class_page_live_and_after_a_reload(
    stack: PulseStack, jupyterlab: Any, tmp_path: Path
) -> None:
    key = await create_class(stack)
    notebook_url = await asyncio.to_thread(jupyterlab, stack, key)
    screenshot = Path(os.environ.get("PULSE_SCREENSHOT_DIR", tmp_path)) / "classroom-jupyterlab.png"  # noqa: TID251 - where CI keeps artifacts
    env = {
        **os.environ,  # noqa: TID251 - PATH for node
        "PULSE_URL": stack["gateway"].url("/"),
        "PULSE_EMAIL": INSTRUCTOR_EMAIL,
        "PULSE_PASSWORD": INSTRUCTOR_PASSWORD,
        "PULSE_CLASS": CLASS_ID,
        "PULSE_STUDENT": STUDENT,
        "JUPYTERLAB_URL": notebook_url,
        "PULSE_SCREENSHOT": str(screenshot),
        "CHROMIUM": CHROMIUM,
    }
    browser = await asyncio.create_subprocess_exec(
        "node", str(SCRIPT), cwd=DASHBOARD, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert browser.stdout is not None
    try:
        output, _ = await asyncio.wait_for(browser.communicate(), SCRIPT_TIMEOUT_S)
    finally:
        if browser.returncode is None:
            browser.kill()
            await browser.wait()
    transcript = output.decode(errors="replace")
    print(transcript)
    if browser.returncode != 0:
        transcript += await what_pulse_stored(stack, tmp_path)
    assert browser.returncode == 0, f"the browser walk failed:\n{transcript}"
    assert "PULSE:passed" in transcript, transcript
    assert screenshot.is_file()
