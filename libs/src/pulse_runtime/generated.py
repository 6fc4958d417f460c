"""Files generated from the code (the dashboard's types, ingest's API documents), written by a
``python -m <module> <directory>`` command and compared with their committed copies by a test."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


def write_generated(
    module: str, generated: Callable[[], dict[str, str]], argv: list[str] | None = None
) -> None:
    """The body of such a command's ``main()``: write every file ``generated()`` names into
    the one directory given, saying which."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit(f"usage: python -m {module} <directory>")
    directory = Path(args[0])
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in generated().items():
        (directory / name).write_text(text, encoding="utf-8")
        print(f"wrote {directory / name}")
