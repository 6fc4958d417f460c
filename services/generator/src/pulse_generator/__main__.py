"""``python -m pulse_generator``."""

from __future__ import annotations

import os

from pulse_runtime.service import service_main

from .app import GeneratorService
from .settings import Settings


def main() -> None:
    settings = Settings.from_environ(os.environ)  # noqa: TID251 - the one place settings are read
    service_main("generator", settings, GeneratorService)


if __name__ == "__main__":
    main()
