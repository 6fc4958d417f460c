"""``python -m pulse_gateway``."""

from __future__ import annotations

import os

from pulse_runtime.service import service_main

from .app import GatewayService
from .settings import Settings


def main() -> None:
    settings = Settings.from_environ(os.environ)  # noqa: TID251 - the one place settings are read
    service_main("gateway", settings, GatewayService)


if __name__ == "__main__":
    main()
