"""``python -m pulse_notifier`` runs the service; ``python -m pulse_notifier migrate``
applies the migrations and exits (the compose migration job)."""

from __future__ import annotations

import sys

from pulse_runtime.service import service_with_migrations_main

from .app import NotifierService
from .schema import migrate
from .settings import Settings


def main() -> None:
    service_with_migrations_main(
        "notifier", Settings.from_environ, NotifierService, migrate, sys.argv[1:]
    )


if __name__ == "__main__":
    main()
