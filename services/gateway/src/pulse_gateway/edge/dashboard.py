"""The dashboard's static files, served at ``/`` (or a page that says how to build them)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from litestar import Router
from litestar.static_files import create_static_files_router
from pulse_runtime.logging import get_logger

log = get_logger(__name__)


def dashboard_directory(configured: str) -> Path:
    """The built dashboard, or the package's page that explains how to build it."""
    if configured and (Path(configured) / "index.html").is_file():
        return Path(configured)
    if configured:
        log.warning("dashboard not built: no index.html", directory=configured)
    return Path(str(files("pulse_gateway") / "unbuilt"))


def dashboard_routes(configured: str) -> Router:
    """The built dashboard at ``/``: a page a browser loads before anyone logs in."""
    return create_static_files_router(
        path="/",
        directories=[dashboard_directory(configured)],
        html_mode=True,
        name="dashboard",
        opt={"access": "public"},
    )
