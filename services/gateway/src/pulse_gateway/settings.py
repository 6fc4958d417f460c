from __future__ import annotations

from collections.abc import Mapping

import msgspec
from pulse_runtime.settings import CommonSettings, load_settings


class GatewaySettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PULSE_GATEWAY_*``."""

    host: str = "127.0.0.1"
    port: int = 8000
    query_timeout_s: float = 10.0
    max_query_points: int = 100_000
    client_queue_size: int = 1_000
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 8005
    auth_timeout_s: float = 5.0
    cookie_secure: bool = True
    cors_origins: list[str] = msgspec.field(default_factory=list)
    max_body_bytes: int = 1 << 20


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    common: CommonSettings
    gateway: GatewaySettings

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        return cls(
            common=load_settings(CommonSettings, "PULSE_", environ),
            gateway=load_settings(GatewaySettings, "PULSE_GATEWAY_", environ),
        )
