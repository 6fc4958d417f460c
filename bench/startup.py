"""From `make run` to a live cpu line in the browser, first on an empty data directory, then again.

Starts ``python -m pulse_dev.devstack`` (what ``make run`` runs once the environment and the
dashboard are built) with a data directory of its own, reads the URL and the first admin's
credentials from its output as a newcomer would, and runs services/dashboard/e2e/startup.mjs in
Debian's Chromium: log in, open sim:cpu, wait until the chart is drawn and its newest point
advances. Then Ctrl-C, and the time until every process has ended. Target (issue 2): a live cpu
line within 20 s of starting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from pulse_dev.embedded import free_port

from bench.report import table, write
from tests.support.stack import DASHBOARD_DIST, devstack_env

SCRIPT = DASHBOARD_DIST.parent / "e2e" / "startup.mjs"
_ADMIN = re.compile(r"first admin: (\S+)  password: (\S+)")
_RUNNING = re.compile(r"Pulse is running: open (\S+)")


async def _browser(url: str, email: str, password: str) -> dict[str, Any]:
    env = {
        **os.environ,  # noqa: TID251 - PATH for node
        "PULSE_URL": url,
        "PULSE_EMAIL": email,
        "PULSE_PASSWORD": password,
        "CHROMIUM": shutil.which("chromium") or "/usr/bin/chromium",
    }
    node = await asyncio.create_subprocess_exec(
        "node", str(SCRIPT), cwd=SCRIPT.parent.parent, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert node.stdout is not None
    result: dict[str, Any] = {}
    async for raw in node.stdout:
        line = raw.decode(errors="replace").rstrip()
        if line.startswith("RESULT "):
            result = json.loads(line.removeprefix("RESULT "))
        else:
            print(line, flush=True)
    if await node.wait() != 0 or not result:
        raise RuntimeError("the browser did not see a live cpu line")
    return result


async def _one_run(data: Path, label: str) -> dict[str, Any]:
    """One `make run` on ``data``: seconds from its start to each step a user sees."""
    print(f"{label}: starting `make run` (data in {data})", flush=True)
    started = time.time()
    devstack = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pulse_dev.devstack", env=devstack_env(data, free_port()),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert devstack.stdout is not None
    seconds: dict[str, float] = {}
    credentials: tuple[str, str] | None = None
    url = ""
    try:
        async with asyncio.timeout(120):
            async for raw in devstack.stdout:
                line = raw.decode(errors="replace").rstrip()
                if line.startswith("devstack"):
                    print(f"  {time.time() - started:5.1f} s  {line}", flush=True)
                if admin := _ADMIN.search(line):
                    credentials = (admin[1], admin[2])
                if running := _RUNNING.search(line):
                    url = running[1]
                    seconds["running_printed"] = time.time() - started
                    break
        if not url:
            raise RuntimeError("make run ended before printing its URL")
        printed = credentials is not None
        if credentials is None:  # not the first run: the password is only in the file
            kept = json.loads((data / "admin-credentials.json").read_text())
            credentials = (kept["email"], kept["password"])
        drain = asyncio.create_task(_drain(devstack.stdout))
        browser = await _browser(url, *credentials)
        for step in ("login page", "signed in", "chart drawn", "live point"):
            seconds[step.replace(" ", "_")] = browser[step] / 1000 - started
        children = [p.pid for p in psutil.Process(devstack.pid).children(recursive=True)]
        stopping = time.time()
        devstack.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(devstack.wait(), 150)
        seconds["stopped_after_ctrl_c"] = time.time() - stopping
        await drain
        left = [pid for pid in children if psutil.pid_exists(pid) and _alive(pid)]
    finally:
        if devstack.returncode is None:
            devstack.kill()
    result = {
        "seconds": {key: round(value, 2) for key, value in seconds.items()},
        "password_printed": printed,
        "exit_code": code,
        "processes_left": len(left),
        "chart_points": browser["points"],
    }
    print(f"{label}: live cpu line {seconds['live_point']:.1f} s after start", flush=True)
    return result


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


def _alive(pid: int) -> bool:
    with contextlib.suppress(psutil.Error):
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    return False


async def run_startup(*, runs: int) -> int:
    if not (DASHBOARD_DIST / "index.html").is_file():
        print("the dashboard is not built: run `make dashboard` first")
        return 1
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    results: dict[str, Any] = {"runs": []}
    try:
        for number in range(1, runs + 1):
            label = (
                "first run (empty data directory)" if number == 1 else f"run {number} (same data)"
            )
            results["runs"].append({"label": label, **await _one_run(work / "data", label)})
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = write("startup", results)
    rows = []
    for run in results["runs"]:
        s = run["seconds"]
        rows.append(
            (
                run["label"],
                f"URL printed {s['running_printed']} s, signed in {s['signed_in']} s, "
                f"live cpu line {s['live_point']} s (target ≤ 20 s); "
                f"stopped {s['stopped_after_ctrl_c']} s after Ctrl-C, "
                f"{run['processes_left']} processes left, password printed: "
                f"{'yes' if run['password_printed'] else 'no'}",
            )
        )
    table([*rows, ("results", str(path))])
    failed = [run for run in results["runs"] if run["exit_code"] or run["processes_left"]]
    return 1 if failed else 0
