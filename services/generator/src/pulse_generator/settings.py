from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec
from pulse_contracts.classroom.events import CLASS_ID_PATTERN
from pulse_runtime.settings import (
    CommonSettings,
    ListenerSettings,
    NonNegativeFloat,
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
    class_students: NonNegativeInt = 25
    """Students in the simulated class (0: no simulated class)."""
    class_cells: Annotated[int, msgspec.Meta(ge=1, le=1_000)] = 30
    class_id: Annotated[str, msgspec.Meta(pattern=CLASS_ID_PATTERN)] = "demo"
    class_speed: PositiveFloat = 2.0
    """How much faster than human pace the class works (1: seconds to a minute per cell; the
    default 2 makes ``make run`` show the class moving within its first minute)."""
    spike_every_s: NonNegativeFloat = 300.0
    """cpu spikes to ``spike_value`` for ``spike_s`` once every this many seconds (the first
    after this long), so that a cpu rule fires and resolves on ``make run``. 0: never."""
    spike_s: PositiveFloat = 30.0
    spike_value: Annotated[float, msgspec.Meta(ge=0, le=100)] = 97.0


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    common: CommonSettings
    generator: GeneratorSettings

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        return load_service_settings(cls, environ, generator="PULSE_GENERATOR_")
