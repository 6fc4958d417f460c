"""``python -m pulse_persistence`` runs the service; ``python -m pulse_persistence migrate``
applies the migrations and exits (the compose migration job)."""

from __future__ import annotations

import asyncio
import os
import sys

from pulse_runtime.database import migrate_database
from pulse_runtime.logging import configure_logging
from pulse_runtime.service import service_main

from .app import PersistenceService
from .schema import migrate
from .settings import Settings


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    settings = Settings.from_environ(os.environ)  # noqa: TID251 - the one place settings are read
    if args == ["migrate"]:
        configure_logging("persistence", settings.common.log_level, settings.common.log_format)
        asyncio.run(migrate_database(settings.database.url, migrate))
    elif args:
        sys.exit("usage: python -m pulse_persistence [migrate]")
    else:
        service_main("persistence", settings, PersistenceService)


if __name__ == "__main__":
    main()
