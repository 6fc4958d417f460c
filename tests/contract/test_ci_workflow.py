"""The GitHub Actions workflow (.github/workflows/ci.yml) is valid and runs what CI runs.

Validated offline with ``check-jsonschema``'s vendored copy of GitHub's workflow schema
(``--builtin-schema vendor.github-workflows``). Then: every ``make`` target it runs exists in
the Makefile, it runs ``make lint`` and everything ``.ci/run`` runs (``make test`` and the
longer targets), and it builds an image of every service from deploy/Dockerfile, pushing them
on main only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
CI_RUN = ROOT / ".ci" / "run"
MAKE_TARGET = re.compile(r"(?:^|[;&|(]\s*|\s)make\s+(?:-[-\w=]+\s+)*([a-z][\w-]*)", re.MULTILINE)
PUSH_ON_MAIN = "github.event_name == 'push' && github.ref == 'refs/heads/main'"


def check_jsonschema() -> str:
    found = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or shutil.which(
        "check-jsonschema"
    )
    if found is None:
        raise RuntimeError("check-jsonschema not found: `make sync` installs it")
    return found


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][\w-]*)\s*:(?!=)", text, re.MULTILINE))


def make_targets(script: str) -> list[str]:
    code = "\n".join(line.split("#", 1)[0] for line in script.splitlines())
    return MAKE_TARGET.findall(code)


def run_steps(workflow: dict[Any, Any]) -> list[tuple[str, str]]:
    return [
        (job_name, step["run"])
        for job_name, job in workflow["jobs"].items()
        for step in job["steps"]
        if "run" in step
    ]


def test_the_workflow_is_valid_against_githubs_schema() -> None:
    result = validate(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "ci.yml"
    text = WORKFLOW.read_text(encoding="utf-8").replace("runs-on:", "run-on:", 1)
    broken.write_text(text, encoding="utf-8")
    assert validate(broken).returncode != 0


def test_it_runs_on_every_push_and_pull_request(workflow: dict[Any, Any]) -> None:
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1: `on` is True
    assert set(triggers) == {"push", "pull_request"}
    for trigger in triggers.values():
        assert not trigger, "no branch or path filter: every push and pull request"


def test_every_make_target_it_runs_exists(workflow: dict[Any, Any]) -> None:
    targets = makefile_targets()
    assert {"lint", "test", "sync"} <= targets
    called = [target for _, script in run_steps(workflow) for target in make_targets(script)]
    called += make_targets(CI_RUN.read_text(encoding="utf-8"))
    assert called
    missing = sorted(set(called) - targets)
    assert missing == [], f"make targets that the Makefile lacks: {missing}"


def test_it_runs_lint_and_everything_ci_runs(workflow: dict[Any, Any]) -> None:
    scripts = [script for _, script in run_steps(workflow)]
    reached = {target for script in scripts for target in make_targets(script)}
    if any(re.search(r"(^|\s)(bash\s+)?\.ci/run\b", script) for script in scripts):
        reached |= set(make_targets(CI_RUN.read_text(encoding="utf-8")))
    ci_targets = set(make_targets(CI_RUN.read_text(encoding="utf-8")))
    assert "test" in ci_targets
    assert ci_targets <= reached, f"not run by the workflow: {sorted(ci_targets - reached)}"
    assert "lint" in reached


def test_the_tests_get_ci_time_and_a_root_debian(workflow: dict[Any, Any]) -> None:
    (job,) = [
        job
        for job in workflow["jobs"].values()
        if any(".ci/run" in step.get("run", "") for step in job["steps"])
    ]
    assert job["timeout-minutes"] >= 90
    assert job["container"]["image"].startswith("python:3.11-")


def test_an_image_per_service_pushed_on_main_only(workflow: dict[Any, Any]) -> None:
    services = sorted(
        path.name
        for path in (ROOT / "services").iterdir()
        if (path / "src" / f"pulse_{path.name}" / "__main__.py").is_file()
    )
    assert len(services) == 7
    images = workflow["jobs"]["images"]
    assert sorted(images["strategy"]["matrix"]["service"]) == services
    assert images["permissions"]["packages"] == "write"
    assert images["env"]["PUSH"] == "${{ " + PUSH_ON_MAIN + " }}"
    steps = {step.get("uses", "").split("@")[0]: step for step in images["steps"]}
    build = steps["docker/build-push-action"]["with"]
    assert build["file"] == "deploy/Dockerfile"
    assert build["build-args"] == "SERVICE=${{ matrix.service }}"
    # The targets of deploy/Dockerfile: the gateway's has the dashboard, every other the default.
    assert build["target"] == "${{ matrix.service == 'gateway' && 'gateway' || 'runtime' }}"
    assert build["push"] == "${{ env.PUSH == 'true' }}"
    login = steps["docker/login-action"]
    assert login["if"] == "env.PUSH == 'true'"
    assert login["with"]["registry"] == "ghcr.io"
    assert "secrets.REGISTRY_TOKEN" in login["with"]["password"]
    assert "secrets.GITHUB_TOKEN" in login["with"]["password"]
    for tag in build["tags"].splitlines():
        assert tag.startswith("${{ steps.image.outputs.name }}:")
    # The names deploy/k8s's overlays use: ghcr.io/<owner>/pulse-<service>.
    (naming,) = [step for step in images["steps"] if step.get("id") == "image"]
    assert "ghcr.io/${GITHUB_REPOSITORY_OWNER,,}/pulse-${{ matrix.service }}" in naming["run"]
