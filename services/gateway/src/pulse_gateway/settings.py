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
    dashboard_dir: str = ""
    """The built dashboard (``services/dashboard/dist``); empty or unbuilt: a page saying so."""


class WebSocketSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PULSE_WS_*``: the multiplexed ``/ws`` socket (docs/websocket.md)."""

    heartbeat_s: float = 20.0
    outbox_frames: int = 256
    slow_consumer_grace_s: float = 10.0
    max_subscriptions: int = 100
    subscribe_rate: float = 10.0
    subscribe_burst: float = 40.0
    history_max_minutes: float = 60.0
    history_max_points: int = 10_000
    replay_max_messages: int = 100_000
    max_frame_bytes: int = 64 * 1024
    close_timeout_s: float = 10.0


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    common: CommonSettings
    gateway: GatewaySettings
    websocket: WebSocketSettings

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        return cls(
            common=load_settings(CommonSettings, "PULSE_", environ),
            gateway=load_settings(GatewaySettings, "PULSE_GATEWAY_", environ),
            websocket=load_settings(WebSocketSettings, "PULSE_WS_", environ),
        )
