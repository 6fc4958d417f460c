"""The dashboard in Debian's Chromium: bundle size, time to first chart, main-thread load.

Real processes: nats-server, PostgreSQL, auth, ingest, persistence, gateway (serving the built
dashboard) and the generator publishing ten series (cpu, mem, eight sensors) at 1 Hz. The
browser side is services/dashboard/e2e/perf.mjs (playwright-core, Chrome DevTools Protocol):
it opens the overview (a live tile and sparkline per series) for ``--minutes`` and samples how
busy the renderer's main thread was. Targets (issue 6): at most 250 KB of gzipped JavaScript,
the first chart within 1 s, the main thread under 5% busy.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.report import table, write
from bench.servers import bench_database
from tests.support.stack import ADMIN_EMAIL, ADMIN_PASSWORD, DASHBOARD_DIST, PulseStack

SCRIPT = DASHBOARD_DIST.parent / "e2e" / "perf.mjs"


def bundle_kb() -> dict[str, float]:
    """Size of the production JavaScript, raw and gzipped (level 9, as servers send it)."""
    files = sorted((DASHBOARD_DIST / "assets").glob("*.js"))
    raw = sum(len(path.read_bytes()) for path in files)
    zipped = sum(len(gzip.compress(path.read_bytes(), 9)) for path in files)
    return {
        "js_files": len(files),
        "js_kb": round(raw / 1024, 1),
        "js_gzip_kb": round(zipped / 1024, 1),
    }


async def run_dashboard(*, minutes: float) -> int:
    if not (DASHBOARD_DIST / "index.html").is_file():
        print("the dashboard is not built: run `make dashboard` first")
        return 1
    results: dict[str, Any] = {"bundle": bundle_kb(), "series": 10}
    print(f"dashboard benchmark: ten series at 1 Hz, overview open for {minutes:g} min")
    print(f"  production JavaScript: {results['bundle']['js_gzip_kb']} KB gzipped")
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    database_url, postgres = await bench_database(work)
    stack = PulseStack(
        work / "stack",
        database_url,
        {"PULSE_LOG_LEVEL": "warning", "PULSE_GENERATOR_SENSORS": "8"},
    )
    try:
        stack.start(["auth", "ingest", "persistence", "gateway", "generator"])
        env = {
            **os.environ,  # noqa: TID251 - PATH for node
            "PULSE_URL": stack["gateway"].url("/"),
            "PULSE_EMAIL": ADMIN_EMAIL,
            "PULSE_PASSWORD": ADMIN_PASSWORD,
            "MINUTES": str(minutes),
            "SAMPLE_S": str(min(60.0, max(5.0, minutes * 60 / 10))),
            "SERIES": "10",
            "CHROMIUM": shutil.which("chromium") or "/usr/bin/chromium",
        }
        browser = await asyncio.create_subprocess_exec(
            "node", str(SCRIPT), cwd=SCRIPT.parent.parent, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        assert browser.stdout is not None
        async for raw in browser.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line.startswith("RESULT "):
                results["browser"] = json.loads(line.removeprefix("RESULT "))
            else:
                print(line, flush=True)
        if await browser.wait() != 0 or "browser" not in results:
            print("the browser run failed")
            return 1
    finally:
        stack.stop()
        if postgres is not None:
            postgres.stop()
    measured = results["browser"]
    path = write("dashboard", results)
    table(
        [
            ("JavaScript (gzip)", f"{results['bundle']['js_gzip_kb']} KB  (target ≤ 250 KB)"),
            (
                "first chart",
                f"median {measured['first_chart_median_ms']} ms of {measured['first_chart_ms']}"
                "  (target ≤ 1000 ms)",
            ),
            (
                "main thread",
                f"{measured['main_thread_busy_percent']}% busy over {minutes:g} min  (target < 5%)",
            ),
            ("JS heap", f"{measured['heap_mb_start']} → {measured['heap_mb_end']} MB"),
            ("results", str(path)),
        ]
    )
    return 0
