"""The gateway and ingest answer as their OpenAPI documents say, whatever they are sent.

Schemathesis (its CLI, as anyone would run it) generates requests from each service's live
document, with and without credentials, and checks every answer: no 5xx, only documented
statuses, the documented content type, body schema and headers. The seed is fixed and the
generation deterministic, so a failure here is reproducible with the command it prints.

The runs must keep their credentials to the end (the test fails when a credentialed run saw
only 401/403), so the gateway's are an admin of their own, not the stack's first admin:
* ``POST /api/v1/auth/logout`` ends the session that calls it, and a password reset of the
  runner itself (its id is in every user list, and schemathesis reuses ids it has seen) ends
  every session of it: each runs last, in a run of its own with a session of its own;
* disabling or demoting itself is refused (409 ``cannot_change_self``), and a change that
  changes nothing ends no session, so ``PATCH`` of users stays in the main run;
* API keys are revoked by the admin run: ingest's run, with a key of its own, comes first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pulse_ingest.documents import ASYNCAPI_FILE, OPENAPI_FILE
from pulse_runtime.generated import rendered

from tests.support.stack import PulseStack, bearer, create_class_key, login

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
MIN_CASES = 1000
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
GATEWAY_CONFIG = """
# Each valid case here hashes a password (Argon2id, a third of a second on a busy machine).
[[operations]]
include-name = "POST /api/v1/admin/users"
generation.max-examples = 8
"""
RUNNER_EMAIL = "schemathesis@pulse.test"
RUNNER_PASSWORD = "a long password for the schemathesis runner"
SESSION_ENDING = ("/api/v1/auth/logout", "/api/v1/admin/users/{user_id}/password")


@dataclass
class Run:
    """One ``schemathesis run``: a document, the credentials sent, the operations tested."""

    name: str
    schema: str
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    max_examples: int = 25
    options: list[str] = field(default_factory=list)
    config: str = ""
    """schemathesis.toml, for settings of one operation (the command line's are for all)."""

    def command(self, config: Path, report: Path) -> list[str]:
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--no-color",
            "--config-file",
            str(config),
            "run",
            self.schema,
            "--url",
            self.base_url,
            "--checks",
            ",".join(CHECKS),
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            str(self.max_examples),
            "--generation-deterministic",  # no seed, no example database: the same cases
            "--request-timeout",
            "10",  # a stalled answer fails the run rather than hanging it
            "--workers",
            "1",
            "--report",
            "json",
            "--report-json-path",
            str(report),
            *self.options,
        ]
        for name, value in self.headers.items():
            command += ["--header", f"{name}: {value}"]
        return command


@dataclass
class Outcome:
    run: Run
    cases: int
    report: dict[str, Any]
    output: str
    exit_code: int


def schemathesis(run: Run, work: Path) -> Outcome:
    name = "".join(c if c.isalnum() else "-" for c in run.name)
    report = work / f"{name}.json"
    config = work / f"{name}.toml"
    config.write_text(run.config)
    env = {
        key: value
        for key, value in os.environ.items()  # noqa: TID251 - the CLI needs PATH and the like
        if not key.startswith(("SCHEMATHESIS_", "PULSE_"))
    }
    env["SCHEMATHESIS_HOOKS"] = str(HOOKS)
    completed = subprocess.run(
        run.command(config, report),
        cwd=work,  # its cache of crashes goes there, not into the checkout
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    document: dict[str, Any] = json.loads(report.read_text()) if report.exists() else {}
    cases = int((document.get("test_cases") or {}).get("generated", 0))
    return Outcome(run, cases, document, completed.stdout + completed.stderr, completed.returncode)


async def runner_admin(stack: PulseStack) -> tuple[str, str, str]:
    """An admin of the runs' own, logged in thrice: a session for the main run and one for
    each run that may end it."""
    async with httpx.AsyncClient() as client:
        created = await client.post(
            stack["gateway"].url("/api/v1/admin/users"),
            headers=bearer(await stack.token()),
            json={"email": RUNNER_EMAIL, "password": RUNNER_PASSWORD, "role": "admin"},
        )
    assert created.status_code == 201, created.text
    return (
        await login(stack, RUNNER_EMAIL, RUNNER_PASSWORD),
        await login(stack, RUNNER_EMAIL, RUNNER_PASSWORD),
        await login(stack, RUNNER_EMAIL, RUNNER_PASSWORD),
    )


async def gateway_document(stack: PulseStack, token: str, work: Path) -> str:
    """The gateway's live document (it needs a login, which schemathesis does not do)."""
    async with httpx.AsyncClient() as client:
        response = await client.get(
            stack["gateway"].url("/schema/openapi.json"), headers=bearer(token)
        )
    assert response.status_code == 200, response.text
    path = work / "gateway.openapi.json"
    path.write_bytes(response.content)
    return str(path)


async def test_the_gateway_and_ingest_answer_as_their_openapi_documents_say(
    make_stack: Any, tmp_path: Path
) -> None:
    stack: PulseStack = make_stack()
    stack.start(["auth", "persistence", "notifier", "alerts", "ingest", "gateway"])
    # Every login first: the anonymous runs' failed logins soon make this address wait.
    main_session, reset_session, logout_session = await runner_admin(stack)
    # A class's producer key: the classroom routes also need the key to name a class.
    api_key = await create_class_key(stack, "conformance", ("ingest:metrics", "ingest:events"))
    gateway = await gateway_document(stack, main_session, tmp_path)
    gateway_url = stack["gateway"].url("/")
    ingest = stack["ingest"].url("/schema/openapi.json")
    ingest_url = stack["ingest"].url("/")
    keep_session = [option for path in SESSION_ENDING for option in ("--exclude-path", path)]
    runs = [
        Run("gateway, anonymous", gateway, gateway_url, config=GATEWAY_CONFIG),
        Run("ingest, anonymous", ingest, ingest_url),
        Run("ingest, API key", ingest, ingest_url, bearer(api_key), max_examples=100),
        Run(
            "gateway, admin",
            gateway,
            gateway_url,
            bearer(main_session),
            options=keep_session,
            config=GATEWAY_CONFIG,
        ),
        *(
            Run(
                f"gateway, admin, {path}",
                gateway,
                gateway_url,
                bearer(session),
                options=["--include-path", path],
            )
            for path, session in zip(SESSION_ENDING, (logout_session, reset_session), strict=True)
        ),
    ]
    # Two runs at a time (each is one process, mostly waiting on the services' answers); the
    # runs that may end the runner's session go last, one after the other, as before.
    ending = len(SESSION_ENDING)
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda run: schemathesis(run, tmp_path), runs[:-ending]))
    outcomes += [schemathesis(run, tmp_path) for run in runs[-ending:]]

    failed = [outcome for outcome in outcomes if outcome.exit_code != 0]
    assert not failed, "\n\n".join(
        f"=== {outcome.run.name}: exit code {outcome.exit_code}\n{outcome.output}"
        for outcome in failed
    )
    for outcome in outcomes:
        assert outcome.cases > 0, f"{outcome.run.name}: no case ran\n{outcome.output}"
        if outcome.run.headers:  # the credentials held for the whole run
            assert not outcome.report["warnings"].get("missing_auth"), outcome.output
    total = sum(outcome.cases for outcome in outcomes)
    counts = ", ".join(f"{outcome.run.name}: {outcome.cases}" for outcome in outcomes)
    assert total >= MIN_CASES, f"only {total} cases ({counts})"
    print(f"schemathesis: {total} cases ({counts})")


async def test_ingest_serves_the_documents_committed_in_docs(make_stack: Any) -> None:
    """Public (no API key), and the same as docs/schemas/ (which a unit test keeps in step
    with the code): what a producer fetches is what the repository documents."""
    stack: PulseStack = make_stack()
    stack.start(["ingest"])
    async with httpx.AsyncClient() as client:
        served = {
            ASYNCAPI_FILE: await client.get(stack["ingest"].url("/asyncapi.json")),
            OPENAPI_FILE: await client.get(stack["ingest"].url("/schema/openapi.json")),
        }
    for name, response in served.items():
        assert response.status_code == 200, (name, response.text)
        assert response.headers["content-type"].startswith("application/"), name
        committed = (SCHEMAS / name).read_text(encoding="utf-8")
        assert rendered(response.json()) == committed, name
