"""Files generated from the code (the gateway's and ingest's API documents), written by a
``python -m <module> <directory>`` command and compared with their committed copies by a test."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec


def rendered(document: dict[str, Any]) -> str:
    """The committed form of a JSON document: indented, keys sorted, a final newline (so a
    diff shows what changed, not where a generator happened to put it)."""
    return msgspec.json.format(msgspec.json.encode(_sorted(document)), indent=2).decode() + "\n"


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


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
