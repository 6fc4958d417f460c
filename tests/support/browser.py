"""A browser walk: a Node script (playwright-core driving Debian's Chromium) run from the
dashboard's folder, talking to its test over stdin/stdout — each line it prints is kept, and a
line the test answers (``answer`` returns the reply) gets the reply back on its stdin."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

DASHBOARD = Path(__file__).resolve().parents[2] / "services" / "dashboard"

Answer = Callable[[str], Awaitable[str | None]]


async def walk(
    script: Path, env: Mapping[str, str], answer: Answer, *, timeout_s: float
) -> tuple[int, list[str]]:
    """Run ``script`` to its end (killed after ``timeout_s``); its exit code and every line
    it printed."""
    browser = await asyncio.create_subprocess_exec(
        "node",
        str(script),
        cwd=DASHBOARD,
        env=dict(env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert browser.stdin is not None
    assert browser.stdout is not None
    stdin, stdout = browser.stdin, browser.stdout
    transcript: list[str] = []

    async def converse() -> None:
        async for raw in stdout:
            line = raw.decode(errors="replace").rstrip()
            transcript.append(line)
            print(line)
            reply = await answer(line)
            if reply is not None:
                stdin.write(f"{reply}\n".encode())
                await stdin.drain()

    try:
        await asyncio.wait_for(converse(), timeout_s)
        code = await asyncio.wait_for(browser.wait(), 30)
    finally:
        if browser.returncode is None:
            browser.kill()
            await browser.wait()
    return code, transcript
