"""``python -m pulse_gateway``."""

from __future__ import annotations

from pulse_runtime.service import service_main

from .service import GatewayService
from .settings import Settings


def main() -> None:
    service_main("gateway", Settings.from_environ, GatewayService)


if __name__ == "__main__":
    main()
