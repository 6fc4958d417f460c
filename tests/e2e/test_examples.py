"""The producer examples in examples/producers work against a real stack, as docs/producers.md
says: their points are accepted and stored (and a retryable answer is retried, not given up)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import nats
import pytest
from pulse_contracts import subjects
from pulse_runtime.settings import CommonSettings
from pulse_runtime.streams import ensure_streams, pulse_streams

from tests.support.stack import PulseStack, create_api_key, eventually, stored_rows

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).parents[2] / "examples" / "producers"


async def run(*command: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, output.decode()


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}  # noqa: TID251


async def test_the_python_nats_example_is_stored_as_json_and_msgpack(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["ingest", "persistence"])
    for fmt, count in (("json", 25), ("msgpack", 35)):
        code, output = await run(
            sys.executable, str(EXAMPLES / "send_nats.py"), "--url", stack.nats_url,
            "--format", fmt, "--source", f"example-{fmt}", "--name", "example_temp",
            "--count", str(count),
            env=clean_env(),
        )  # fmt: skip
        assert code == 0, output
        assert f"-> accepted {count}" in output, output

    async def all_stored() -> bool:
        return await stored_rows(stack.database_url, "example_temp") == 25 + 35

    assert await eventually(all_stored, within_s=30)


async def test_the_python_nats_example_retries_a_retryable_answer(make_stack: Any) -> None:
    """While JetStream cannot store (the stream is gone), ingest answers ``retryable``: the
    example waits and sends again, and succeeds once the stream is back."""
    stack: PulseStack = make_stack()
    stack.start(["ingest"])
    nc = await nats.connect(stack.nats_url)
    try:
        js = nc.jetstream()
        await js.delete_stream(subjects.METRICS_STREAM)
        example = asyncio.create_task(
            run(
                sys.executable,
                str(EXAMPLES / "send_nats.py"),
                "--url",
                stack.nats_url,
                "--count",
                "5",
                env=clean_env(),
            )
        )

        async def answered_retryable() -> bool:  # ingest has refused it at least once
            return "message not stored" in stack["ingest"].output()

        assert await eventually(answered_retryable, within_s=30)
        await ensure_streams(js, pulse_streams(CommonSettings()))
        code, output = await example
    finally:
        await nc.drain()
    assert code == 0, output
    assert "not stored" in output, output  # it was told, and retried
    assert "-> accepted 5" in output, output


@pytest.mark.skipif(shutil.which("curl") is None, reason="the example needs curl")
async def test_the_curl_example_is_stored(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["auth", "ingest", "persistence", "gateway"])
    _, api_key = await create_api_key(stack, ["ingest:metrics"])
    env = {
        **clean_env(),
        "PULSE_API_KEY": api_key,
        "PULSE_INGEST_URL": stack["ingest"].url("/").rstrip("/"),
        "SOURCE": "example-curl",
        "NAME": "curl_temp",
    }
    code, output = await run("bash", str(EXAMPLES / "send_http.sh"), env=env)
    assert code == 0, output

    async def some_stored() -> int:
        return await stored_rows(stack.database_url, "curl_temp")

    assert await eventually(some_stored, within_s=30)
