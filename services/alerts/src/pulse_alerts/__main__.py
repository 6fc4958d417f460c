"""``python -m pulse_alerts`` runs the service; ``python -m pulse_alerts migrate`` applies the
migrations and exits (the compose migration job)."""

from __future__ import annotations

import sys

from pulse_runtime.service import service_with_migrations_main

from .app import AlertsService
from .schema import migrate
from .settings import Settings


def main() -> None:
    service_with_migrations_main(
        "alerts", Settings.from_environ, AlertsService, migrate, sys.argv[1:]
    )


if __name__ == "__main__":
    main()
