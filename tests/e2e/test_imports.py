"""Bulk imports through ingest's HTTP edge, on real servers: a CSV and a JSON-lines file stored,
each point once however often the file is imported; a file with a bad row in the middle stores
the chunks before it, and its trace id leads to its task steps up to the failed one; and the
refusals (too large, wrong type, empty, garbage) are 4xx with a code, never 5xx."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import nats
import pytest
from pulse_contracts import subjects

from tests.e2e.test_websocket import open_socket
from tests.support.stack import (
    PulseStack,
    bearer,
    create_api_key,
    eventually,
    stored_points,
)

pytestmark = pytest.mark.integration

TIMEOUT_S = 30.0
CHUNK_ROWS = 100
START = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)


def rows(count: int) -> list[tuple[datetime, str, float]]:
    """``count`` points a minute apart, two sources taking turns."""
    return [
        (START + timedelta(minutes=i), f"plant-{i % 2}", round(i * 0.5, 1)) for i in range(count)
    ]


def csv_file(name: str, points: list[tuple[datetime, str, float]]) -> bytes:
    lines = ["time,source,name,value,unit"]
    lines += [f"{t.isoformat()},{source},{name},{value},kW" for t, source, value in points]
    return ("\n".join(lines) + "\n").encode()


def ndjson_file(name: str, points: list[tuple[datetime, str, float]]) -> bytes:
    return b"".join(
        json.dumps({"time": t.isoformat(), "source": s, "name": name, "value": v}).encode() + b"\n"
        for t, s, v in points
    )


def expected(name: str, points: list[tuple[datetime, str, float]]) -> list[Any]:
    return sorted((source, t, value) for t, source, value in points)


async def fetch(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def task_steps(database_url: str, trace_id: str) -> list[asyncpg.Record]:
    return await fetch(
        database_url,
        "SELECT step_name, status, input_data, output_data, error_message FROM audit_task_steps"
        " WHERE trace_id = $1 AND task_name = 'metrics_import' ORDER BY execution_order",
        trace_id,
    )


async def metrics_messages(stack: PulseStack) -> int:
    nc = await nats.connect(stack.nats_url)
    try:
        info = await nc.jetstream().stream_info(subjects.METRICS_STREAM)
    finally:
        await nc.close()
    return int(info.state.messages)


async def import_with_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "pulse_dev.import_metrics", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )


def start_stack(make_stack: Any, **env: str) -> PulseStack:
    stack: PulseStack = make_stack(PULSE_INGEST_IMPORT_CHUNK_ROWS=str(CHUNK_ROWS), **env)
    stack.start(["persistence", "auth", "ingest", "gateway"])
    return stack


async def test_csv_and_json_lines_imports_are_stored_once(
    make_stack: Any, database_url: str, tmp_path: Path
) -> None:
    stack = start_stack(make_stack)
    _, key = await create_api_key(stack, ["ingest:metrics"])
    url = stack["ingest"].url("/api/v1/imports")
    points = rows(450)
    files = {
        "text/csv": ("imported_csv", csv_file("imported_csv", points)),
        "application/x-ndjson": ("imported_ndjson", ndjson_file("imported_ndjson", points)),
    }
    async with httpx.AsyncClient(timeout=60) as client:
        for content_type, (name, body) in files.items():
            response = await client.post(
                url, content=body, headers={**bearer(key), "Content-Type": content_type}
            )
            assert response.status_code == 201, response.text
            summary = response.json()
            assert summary["trace_id"] == response.headers["traceparent"].split("-")[1]
            assert (summary["rows"], summary["chunks"], summary["series"]) == (450, 5, 2)
            assert summary["bytes"] == len(body)
            assert summary["first_time"] == START.isoformat().replace("+00:00", "Z")
            last = START + timedelta(minutes=449)
            assert summary["last_time"] == last.isoformat().replace("+00:00", "Z")

            async def all_stored(name: str = name) -> bool:
                return len(await stored_points(database_url, name)) >= 450

            assert await eventually(all_stored, within_s=TIMEOUT_S)
            assert await stored_points(database_url, name) == expected(name, points)

            async def steps(trace_id: str = summary["trace_id"]) -> list[asyncpg.Record]:
                found = await task_steps(database_url, trace_id)
                return found if len(found) >= 8 else []

            recorded = await eventually(steps, within_s=TIMEOUT_S)
            assert [(step["step_name"], step["status"]) for step in recorded] == [
                ("metrics_import", "START"),
                ("parse", "SUCCESS"),
                *((f"chunk {n}", "SUCCESS") for n in range(1, 6)),
                ("metrics_import", "SUCCESS"),
            ]
            assert msgspec.json.decode(recorded[-1]["output_data"])["rows"] == 450

        # Again, the same files: JetStream drops each chunk's messages as repeats.
        stored_messages = await metrics_messages(stack)
        for content_type, (_, body) in files.items():
            response = await client.post(
                url, content=body, headers={**bearer(key), "Content-Type": content_type}
            )
            assert response.status_code == 201, response.text
        assert await metrics_messages(stack) == stored_messages
        for name, _ in files.values():
            assert await stored_points(database_url, name) == expected(name, points)

        # The CLI streams a file and prints the summary.
        file = tmp_path / "history.jsonl"
        file.write_bytes(ndjson_file("imported_cli", points))
        done = await import_with_cli(str(file), "--url", stack["ingest"].url(""), "--api-key", key)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["rows"] == 450
        assert "sent 0.0 of 0.0 MB (100%)" in done.stderr

        async def cli_stored() -> bool:  # stored in JetStream when answered; in the database soon
            return len(await stored_points(database_url, "imported_cli")) >= len(points)

        assert await eventually(cli_stored, within_s=TIMEOUT_S)
        assert await stored_points(database_url, "imported_cli") == expected("", points)

        scraped = await client.get(
            f"http://127.0.0.1:{stack['ingest'].env['PULSE_INGEST_METRICS_PORT']}/metrics"
        )
        assert 'pulse_ingest_imports_total{outcome="stored"} 5.0' in scraped.text
        assert 'pulse_ingest_import_rows_total{outcome="stored"} 2250.0' in scraped.text

    # A refusal: exit status 1 and the answer on stderr.
    file.write_bytes(b"time,source,name,value\nnow,a,b,1\n")
    refused = await import_with_cli(
        str(file), "--format", "csv", "--url", stack["ingest"].url(""), "--api-key", key, "--quiet"
    )
    assert refused.returncode == 1
    assert "refused (422)" in refused.stderr
    assert '"code": "import_row_invalid"' in refused.stderr


async def test_an_import_is_not_sent_live_but_a_live_point_after_it_is(
    make_stack: Any, database_url: str
) -> None:
    """A chart watching ``metric:imported_live`` gets no frame for the 250 imported points (the
    history is stored, but it is not news); the live point sent after them is its next frame."""
    stack = start_stack(make_stack)
    _, key = await create_api_key(stack, ["ingest:metrics"])
    name = "imported_live"
    points = rows(250)
    async with open_socket(stack) as socket, httpx.AsyncClient(timeout=60) as client:
        await socket.send(type="subscribe", channel=f"metric:{name}")
        await socket.until("subscribed")
        response = await client.post(
            stack["ingest"].url("/api/v1/imports"),
            content=csv_file(name, points),
            headers={**bearer(key), "Content-Type": "text/csv"},
        )
        assert response.status_code == 201, response.text

        async def all_stored() -> bool:
            return len(await stored_points(database_url, name)) >= len(points)

        assert await eventually(all_stored, within_s=TIMEOUT_S)
        now = datetime.now(UTC).isoformat()
        live = {"time": now, "source": "plant-live", "name": name, "value": 42.0}
        response = await client.post(
            stack["ingest"].url("/api/v1/metrics"), json=[live], headers=bearer(key)
        )
        assert response.status_code == 202, response.text
        frame = await socket.until("data", within_s=TIMEOUT_S)
        assert (frame["source"], [p["value"] for p in frame["points"]]) == ("plant-live", [42.0])


async def test_a_failed_import_is_found_from_its_trace_id_with_its_steps_and_stored_chunks(
    make_stack: Any, database_url: str
) -> None:
    """The issue's test: a bad row in the middle of a file. The response carries the trace id;
    from it, the task steps up to the failed chunk with its error; the chunks before it are
    stored, nothing of the chunk with the bad row or after it."""
    stack = start_stack(make_stack)
    _, key = await create_api_key(stack, ["ingest:metrics"])
    points = rows(450)
    body = csv_file("failed_import", points).splitlines(keepends=True)
    # Line 1 is the header: rows 2-101 are chunk 1, 102-201 chunk 2, 202-301 chunk 3.
    bad_line = 260
    body[bad_line - 1] = (
        f"{points[bad_line - 2][0].isoformat()},plant-0,failed_import,hot,kW\n".encode()
    )
    traceparent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            stack["ingest"].url("/api/v1/imports"),
            content=b"".join(body),
            headers={**bearer(key), "Content-Type": "text/csv", "traceparent": traceparent},
        )
    assert response.status_code == 422, response.text
    trace_id = response.headers["traceparent"].split("-")[1]
    assert trace_id == traceparent.split("-")[1]
    refused = response.json()
    assert refused["code"] == "import_row_invalid"
    assert refused["row"] == {"line": bad_line, "field": "value", "reason": "'hot' is not a number"}
    assert refused["message"] == f"line {bad_line}: value 'hot' is not a number"
    assert refused["summary"]["trace_id"] == trace_id
    assert (refused["summary"]["rows"], refused["summary"]["chunks"]) == (200, 2)

    async def steps() -> list[asyncpg.Record]:
        found = await task_steps(database_url, trace_id)
        return found if found and found[-1]["step_name"] == "metrics_import" else []

    recorded = await eventually(steps, within_s=TIMEOUT_S)
    assert [(step["step_name"], step["status"]) for step in recorded] == [
        ("metrics_import", "START"),
        ("parse", "SUCCESS"),
        ("chunk 1", "SUCCESS"),
        ("chunk 2", "SUCCESS"),
        ("chunk 3", "FAILED"),
        ("metrics_import", "FAILED"),
    ]
    failed = recorded[4]
    assert failed["error_message"] == f"RowInvalid: line {bad_line}: value 'hot' is not a number"
    assert msgspec.json.decode(failed["input_data"]) == {
        "rows": 100,
        "first_line": 202,
        "last_line": 301,
    }
    assert msgspec.json.decode(recorded[3]["output_data"])["rows_imported"] == 200
    assert recorded[-1]["error_message"] == failed["error_message"]

    # The request itself, from the same trace id: its access record with the 422 answered, and
    # the whole story through the admins' API, the failed step in it.
    async with httpx.AsyncClient(timeout=60) as client:

        async def story() -> dict[str, Any]:
            answer = await client.get(
                stack["gateway"].url(f"/api/v1/admin/audit/traces/{trace_id}"),
                headers=bearer(await stack.token()),
            )
            if answer.status_code != 200:
                return {}
            found: dict[str, Any] = answer.json()
            kinds = [item["kind"] for item in found["items"]]
            return found if "access" in kinds and len(kinds) >= len(recorded) + 1 else {}

        told = await eventually(story, within_s=TIMEOUT_S)
    assert told, f"no access record for {trace_id}"
    accesses = [item["access"] for item in told["items"] if item["kind"] == "access"]
    assert [(a["service"], a["method"], a["route"], a["response_status"]) for a in accesses] == [
        ("ingest", "POST", "/api/v1/imports", 422)
    ]
    assert accesses[0]["response_body"]["code"] == "import_row_invalid"
    failed_steps = [
        item["step"]["step_name"]
        for item in told["items"]
        if item["kind"] == "step" and item["step"]["status"] == "FAILED"
    ]
    assert failed_steps == ["chunk 3", "metrics_import"]

    async def chunks_before_stored() -> bool:
        return len(await stored_points(database_url, "failed_import")) >= 200

    assert await eventually(chunks_before_stored, within_s=TIMEOUT_S)
    assert await stored_points(database_url, "failed_import") == expected(
        "failed_import", points[:200]
    )


async def test_refused_imports_are_4xx_with_a_code_never_5xx(make_stack: Any) -> None:
    stack = start_stack(make_stack, PULSE_INGEST_IMPORT_MAX_BYTES="20000")
    _, key = await create_api_key(stack, ["ingest:metrics"])
    url = stack["ingest"].url("/api/v1/imports")
    big = csv_file("too_big", rows(600))
    assert len(big) > 20_000

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    rng = secrets.SystemRandom()
    garbage = bytes(rng.randrange(256) for _ in range(5000))
    cases: list[tuple[str, Any, str, int, str]] = [
        ("declared too large", big, "text/csv", 413, "import_too_large"),
        ("streamed too large", streamed(), "text/csv", 413, "import_too_large"),
        ("JSON", b'{"a": 1}', "application/json", 415, "unsupported_media_type"),
        ("no type", b"time,source,name,value\n", "", 415, "unsupported_media_type"),
        ("empty CSV", b"", "text/csv", 422, "import_empty"),
        ("header only", b"time,source,name,value\n", "text/csv", 422, "import_empty"),
        ("empty JSON lines", b"\n\n", "application/x-ndjson", 422, "import_empty"),
        ("bad header", b"when,what\n1,2\n", "text/csv", 422, "import_header_invalid"),
        ("garbage CSV", garbage, "text/csv", 422, ""),
        ("garbage JSON lines", garbage, "application/x-ndjson", 422, "import_row_invalid"),
        (
            "too old",
            csv_file("old", [(START - timedelta(days=400), "a", 1.0)]),
            "text/csv",
            422,
            "import_row_invalid",
        ),
    ]
    async with httpx.AsyncClient(timeout=60) as client:
        for what, body, content_type, status, code in cases:
            headers = {**bearer(key), "Content-Type": content_type}
            response = await client.post(url, content=body, headers=headers)
            assert response.status_code == status, (what, response.text)
            assert response.headers["traceparent"], what
            answered = response.json()
            if code:
                assert answered["code"] == code, (what, answered)
            else:  # garbage: its first line is no header, or no CSV row
                assert answered["code"].startswith("import_"), (what, answered)
        streamed_refusal = await client.post(
            url, content=streamed(), headers={**bearer(key), "Content-Type": "text/csv"}
        )
        assert streamed_refusal.json()["summary"]["rows"] > 0, streamed_refusal.text
        scraped = await client.get(
            f"http://127.0.0.1:{stack['ingest'].env['PULSE_INGEST_METRICS_PORT']}/metrics"
        )
    assert f'pulse_ingest_imports_total{{outcome="refused"}} {len(cases) + 1}.0' in scraped.text
    assert 'pulse_ingest_imports_total{outcome="stored"}' not in scraped.text
