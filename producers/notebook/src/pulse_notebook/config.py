"""Where to send, with which class key, as which student: from the environment at load, or
from ``%pulse_config`` later.

A student's kernel has none of Pulse's packages, so the producer reads its own environment,
once, when the extension loads (:func:`config_from_environ`).
"""

from __future__ import annotations

import dataclasses
import getpass
import hashlib
import os
import shlex
from collections.abc import Mapping
from pathlib import Path

ENVIRONMENT = {
    "endpoint": "PULSE_NOTEBOOK_ENDPOINT",
    "key": "PULSE_NOTEBOOK_KEY",
    "student": "PULSE_NOTEBOOK_STUDENT",
    "spool_dir": "PULSE_NOTEBOOK_SPOOL_DIR",
    "spool_max_bytes": "PULSE_NOTEBOOK_SPOOL_MAX_BYTES",
}
"""Each option and the variable it is read from (``%pulse_config`` takes the option names)."""

DEFAULT_SPOOL_DIR = Path("~/.cache/pulse-notebook")
DEFAULT_SPOOL_MAX_BYTES = 20 * 1024 * 1024


class ConfigError(ValueError):
    """A bad option value; the message names the option."""


@dataclasses.dataclass(frozen=True)
class ProducerConfig:
    endpoint: str | None = None
    """Pulse's ingest, e.g. ``http://localhost:8001`` (``/api/v1/events`` is added)."""
    key: str | None = None
    """The class's producer key (an API key with the ``ingest:events`` scope)."""
    student: str = ""
    """The student's id as the class knows it (an email, usually)."""
    spool_dir: Path = DEFAULT_SPOOL_DIR
    spool_max_bytes: int = DEFAULT_SPOOL_MAX_BYTES

    @property
    def ready(self) -> bool:
        """Enough to send: an endpoint, a key and a student."""
        return bool(self.endpoint and self.key and self.student)

    def class_folder(self) -> Path:
        """The spool folder of this class key: events buffered here are sent with this key
        only, so a student who moves to another class never sends old events with the new
        key. Named by a digest of the key, never the key itself."""
        digest = hashlib.sha256((self.key or "").encode()).hexdigest()[:16]
        return self.spool_dir.expanduser() / f"key-{digest}"

    def with_options(self, options: Mapping[str, str]) -> ProducerConfig:
        changes: dict[str, object] = {}
        for name, value in options.items():
            if name not in ENVIRONMENT:
                known = ", ".join(ENVIRONMENT)
                raise ConfigError(f"unknown option {name!r} (options: {known})")
            changes[name] = _parsed(name, value)
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def describe(self) -> str:
        """One line per option, the key masked (its first characters only)."""
        key = self.key or ""
        masked = f"{key[:6]}…({len(key)} chars)" if key else "(not set)"
        lines = [
            f"endpoint        = {self.endpoint or '(not set)'}",
            f"key             = {masked}",
            f"student         = {self.student or '(not set)'}",
            f"spool_dir       = {self.spool_dir}",
            f"spool_max_bytes = {self.spool_max_bytes}",
        ]
        return "\n".join(lines)


def _parsed(name: str, value: str) -> object:
    value = value.strip()
    if name == "endpoint":
        if not value.startswith(("http://", "https://")):
            raise ConfigError(f"endpoint must start with http:// or https://, not {value!r}")
        return value.rstrip("/")
    if name == "spool_dir":
        return Path(value)
    if name == "spool_max_bytes":
        try:
            size = int(value)
        except ValueError:
            raise ConfigError(f"spool_max_bytes must be a whole number, not {value!r}") from None
        if size < 64 * 1024:
            raise ConfigError("spool_max_bytes must be at least 65536")
        return size
    if not value:
        raise ConfigError(f"{name} must not be empty")
    return value


def default_student(environ: Mapping[str, str]) -> str:
    """The JupyterHub user when there is one, else the login name."""
    hub_user = environ.get("JUPYTERHUB_USER", "")
    if hub_user:
        return hub_user
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        return ""


def config_from_environ(environ: Mapping[str, str] | None = None) -> ProducerConfig:
    """The configuration the environment gives (``PULSE_NOTEBOOK_*``)."""
    environ = os.environ if environ is None else environ
    options = {
        name: environ[variable]
        for name, variable in ENVIRONMENT.items()
        if environ.get(variable, "").strip()
    }
    base = ProducerConfig(student=default_student(environ))
    try:
        return base.with_options(options)
    except ConfigError as error:
        raise ConfigError(f"{error} (from the environment)") from None


def parse_magic_line(line: str) -> dict[str, str]:
    """``endpoint=… key=… student=…`` into options; values may be quoted."""
    options: dict[str, str] = {}
    for word in shlex.split(line):
        name, separator, value = word.partition("=")
        if not separator:
            raise ConfigError(f"expected option=value, not {word!r}")
        options[name.strip()] = value
    return options
