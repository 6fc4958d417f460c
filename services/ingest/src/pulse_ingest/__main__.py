"""``python -m pulse_ingest``."""

from __future__ import annotations

from pulse_runtime.service import service_main

from .app import IngestService
from .settings import Settings


def main() -> None:
    service_main("ingest", Settings.from_environ, IngestService)


if __name__ == "__main__":
    main()
