"""Settings from ``PULSE_*`` environment variables into frozen msgspec Structs.

Read once in a service's ``main()`` and passed down; nothing else reads the environment.
A wrong value fails at start with a message naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import msgspec

SettingsT = TypeVar("SettingsT", bound=msgspec.Struct)

LogFormat = Literal["auto", "json", "console"]


class SettingsError(ValueError):
    """A ``PULSE_*`` variable holds a value its setting cannot take."""


class CommonSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What every service shares; read from ``PULSE_<FIELD>``."""

    nats_url: str = "nats://127.0.0.1:4222"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: LogFormat = "auto"
    stream_max_age_s: float = 7 * 24 * 3600.0
    stream_max_bytes: int = 1 << 30
    stream_duplicate_window_s: float = 120.0
    deadletter_max_age_s: float = 30 * 24 * 3600.0
    shutdown_timeout_s: float = 20.0


class DatabaseSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PULSE_DATABASE_URL``: for the services that own a schema (persistence, auth)."""

    url: str = "postgresql://pulse@127.0.0.1:5432/pulse"


def load_settings(
    settings_type: type[SettingsT], prefix: str, environ: Mapping[str, str]
) -> SettingsT:
    """Build ``settings_type`` from ``environ[prefix + FIELD]``, leaving unset fields at defaults.

    Strings are converted leniently ("8000" -> 8000, "true" -> True); lists take commas.
    """
    values: dict[str, Any] = {}
    for field in msgspec.structs.fields(settings_type):
        variable = f"{prefix}{field.name.upper()}"
        raw = environ.get(variable)
        if raw is None or raw == "":
            continue
        try:
            values[field.name] = msgspec.convert(
                _split_if_list(raw, field.type), field.type, strict=False
            )
        except msgspec.ValidationError as exc:
            reason = str(exc).split(" - at ", 1)[0]
            raise SettingsError(f"{variable}={raw!r} is not valid: {reason}") from None
    try:
        return msgspec.convert(values, settings_type)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"settings with prefix {prefix}: {exc}") from None


def _split_if_list(raw: str, field_type: Any) -> Any:
    origin = getattr(field_type, "__origin__", None)
    if origin in (list, tuple, frozenset, set):
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw
