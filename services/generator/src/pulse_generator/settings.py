from __future__ import annotations

from collections.abc import Mapping

import msgspec
from pulse_runtime.settings import (
    CommonSettings,
    ListenerSettings,
    NonNegativeInt,
    Port,
    PositiveFloat,
    load_service_settings,
)


class GeneratorSettings(ListenerSettings, frozen=True, kw_only=True):
    """``PULSE_GENERATOR_*``."""

    port: Port = 8002
    rate_hz: PositiveFloat = 1.0
    sensors: NonNegativeInt = 2
    source: str = "sim"
    host_metrics: bool = False
    seed: int | None = None


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    common: CommonSettings
    generator: GeneratorSettings

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        return load_service_settings(cls, environ, generator="PULSE_GENERATOR_")
