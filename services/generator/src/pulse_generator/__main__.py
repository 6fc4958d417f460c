"""``python -m pulse_generator``."""

from __future__ import annotations

from pulse_runtime.service import service_main

from .app import GeneratorService
from .settings import Settings


def main() -> None:
    service_main("generator", Settings.from_environ, GeneratorService)


if __name__ == "__main__":
    main()
