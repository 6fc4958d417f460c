"""Each service starts with only what its own package declares.

The development environment has every workspace member and every extra installed, so a service
that imports a package it does not depend on (persistence reaching ``litestar`` through
``pulse_runtime.web``) runs here and fails only in its image. This test imports each service's
entry point in a fresh interpreter that refuses every top-level module outside the service's
declared dependency closure (its requirements, their requirements, the extras it names) and the
standard library — the image build's import check, in seconds and without Docker.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(
    path.name
    for path in (ROOT / "services").iterdir()
    if (path / "src" / f"pulse_{path.name}" / "__main__.py").is_file()
)

_GUARD = r"""
import importlib, importlib.abc, importlib.metadata as md, re, sys

def closure(name, extras=()):
    seen, todo = set(), [(name, tuple(extras))]
    while todo:
        dist_name, wanted = todo.pop()
        key = re.sub(r"[-_.]+", "-", dist_name).lower()
        if (key, wanted) in seen:
            continue
        seen.add((key, wanted))
        try:
            dist = md.distribution(dist_name)
        except md.PackageNotFoundError:
            continue
        for requirement in dist.requires or []:
            spec, _, marker = requirement.partition(";")
            extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)", marker)
            if extra and extra.group(1) not in wanted:
                continue
            if marker.strip() and not extra:
                from packaging.markers import Marker
                if not Marker(marker).evaluate({"extra": ""}):
                    continue
            match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(?:\[([^\]]*)\])?", spec)
            named = (match.group(2) or "").split(",")
            todo.append((match.group(1), tuple(e.strip() for e in named if e.strip())))
    return {key for key, _ in seen}

allowed_dists = closure(sys.argv[1])
# Editable workspace members are not in packages_distributions(): their module is their name.
allowed = set(sys.stdlib_module_names) | {key.replace("-", "_") for key in allowed_dists}
for module, dists in md.packages_distributions().items():
    if any(re.sub(r"[-_.]+", "-", d).lower() in allowed_dists for d in dists):
        allowed.add(module)

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        top = fullname.partition(".")[0]
        if top in allowed or top.startswith("_"):
            return None
        why = f"{fullname!r} is not among {sys.argv[1]}'s dependencies"
        raise ModuleNotFoundError(why, name=fullname)

sys.meta_path.insert(0, Refuse())
importlib.import_module(sys.argv[2])
"""


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_with_only_its_declared_dependencies(service: str) -> None:
    module = f"pulse_{service}.__main__"
    done = subprocess.run(
        [sys.executable, "-c", _GUARD, f"pulse-{service}", module],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
