"""``python -m pulse_auth`` runs the service; ``python -m pulse_auth migrate``
applies the migrations and exits (the compose migration job)."""

from __future__ import annotations

import os
import sys

from pulse_runtime.service import service_with_migrations_main

from .app import AuthService
from .schema import migrate
from .settings import Settings


def main() -> None:
    settings = Settings.from_environ(os.environ)  # noqa: TID251 - the one place settings are read
    service_with_migrations_main("auth", settings, AuthService, migrate, sys.argv[1:])


if __name__ == "__main__":
    main()
