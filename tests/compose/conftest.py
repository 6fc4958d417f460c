"""The engine, the images and the Compose project of `make test-compose` (pytest --compose).

Everything the run makes goes at its end: the project's containers, networks and volumes
(``down --volumes``), the services' images, the engine if this run started it. The base image
and the stand-ins stay in the engine's data root (/var/lib/pulse-docker), as does the build
cache: they depend on nothing in the repository but their own Dockerfiles, and keep a second
run from debootstrapping again (``rm -rf /var/lib/pulse-docker`` takes them away).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from . import images
from .engine import DockerEngine
from .project import COMPOSE_BINARY, ROOT, ComposeProject

# Timings (seconds) and image sizes (MB) of the run, printed at its end and written to
# --compose-results.
REPORT: dict[str, Any] = {"timings_s": {}, "image_sizes_mb": {}}
UV_BINARIES = COMPOSE_BINARY.parent
NATS_SERVER = Path(sys.executable).parent / "nats-server"
UV_TAG = "pulse-test-uv:0.8.24"


def progress(message: str) -> None:
    print(f"[compose {time.strftime('%H:%M:%S')}] {message}", flush=True)


@contextmanager
def timed(name: str) -> Iterator[None]:
    """Records the block's duration in REPORT (also when it fails) and prints it."""
    started = time.monotonic()
    try:
        yield
    finally:
        elapsed = round(time.monotonic() - started, 1)
        REPORT["timings_s"][name] = elapsed
        progress(f"{name}: {elapsed} s")


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    for needed in (COMPOSE_BINARY, UV_BINARIES / "uv", NATS_SERVER):
        if not needed.is_file():
            pytest.fail(f"{needed} is missing: run `make test-compose` (it installs it)")
    running = DockerEngine(tmp_path_factory.mktemp("dockerd") / "dockerd.log")
    with timed("engine start"):
        running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def built(
    engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ComposeProject]:
    """The project, every image it needs built; brought down (volumes too) at the end."""
    with timed("base image (debootstrap + import, or cached)"):
        made = images.build_base(engine, tmp_path_factory.mktemp("base"), progress)
    REPORT["base_image_built_now"] = made
    with timed("stand-ins: uv, nats, postgres"):
        images.build_stand_in(
            engine, "uv", UV_TAG, {"uv": UV_BINARIES / "uv", "uvx": UV_BINARIES / "uvx"}
        )
        images.build_stand_in(engine, "nats", "pulse-test-nats:local", {"nats-server": NATS_SERVER})
        images.build_stand_in(engine, "postgres", "pulse-test-postgres:local", {})
    project = ComposeProject(engine, f"pulse-compose-test-{os.getpid()}")
    builds = images.service_builds(project.config())
    built_images: list[str] = []
    try:
        for image, build in sorted(builds.items()):
            with timed(f"build {image.split(':')[0]}"):
                images.build_service_image(engine, image, build)
            built_images.append(image)
        for image in [
            images.BASE_IMAGE,
            UV_TAG,
            "pulse-test-nats:local",
            "pulse-test-postgres:local",
            *built_images,
        ]:
            REPORT["image_sizes_mb"][image.split(":")[0]] = images.image_size_mb(engine, image)
        progress(f"image sizes (MB): {json.dumps(REPORT['image_sizes_mb'])}")
        yield project
    finally:
        progress("docker compose down --volumes")
        try:
            with timed("down"):
                project.run("down", "--volumes", "--remove-orphans", "--timeout", "30", timeout=300)
        finally:
            for image in built_images:
                images.docker(engine, "image", "rm", "--force", image, timeout=120)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not REPORT["timings_s"]:
        return
    terminalreporter.section("compose")
    terminalreporter.line(json.dumps(REPORT, indent=2))
    path = config.getoption("compose_results")
    if path:
        target = Path(path) if Path(path).is_absolute() else ROOT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(REPORT, indent=2) + "\n", encoding="utf-8")
