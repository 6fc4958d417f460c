from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec
from pulse_runtime.settings import (
    AccessLogSettings,
    AuditSettings,
    ClientLimits,
    CommonSettings,
    EdgeListenerSettings,
    NonNegativeFloat,
    NonNegativeInt,
    Port,
    PositiveFloat,
    PositiveInt,
    load_service_settings,
)


class GatewaySettings(EdgeListenerSettings, frozen=True, kw_only=True):
    """``PULSE_GATEWAY_*``."""

    port: Port = 8000
    metrics_port: Port = 8005
    query_timeout_s: PositiveFloat = 10.0
    max_query_points: PositiveInt = 100_000
    client_queue_size: PositiveInt = 1_000
    auth_timeout_s: PositiveFloat = 5.0
    cookie_secure: bool = True
    cors_origins: list[str] = msgspec.field(default_factory=list)
    max_body_bytes: PositiveInt = 1 << 20
    dashboard_dir: str = ""
    """The built dashboard (``services/dashboard/dist``); empty or unbuilt: a page saying so."""


class WebSocketSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PULSE_WS_*``: the multiplexed ``/ws`` socket (docs/websocket.md)."""

    heartbeat_s: PositiveFloat = 20.0
    outbox_frames: PositiveInt = 256
    slow_consumer_grace_s: NonNegativeFloat = 10.0
    max_subscriptions: PositiveInt = 100
    subscribe_rate: PositiveFloat = 10.0
    subscribe_burst: Annotated[float, msgspec.Meta(ge=1)] = 40.0  # a request takes one token
    history_max_minutes: NonNegativeFloat = 60.0
    history_max_points: NonNegativeInt = 10_000
    replay_max_messages: NonNegativeInt = 100_000
    replay_concurrency: PositiveInt = 8
    """Stream reads (histories, resumes older than the kept frames) holding a JetStream
    consumer at once; the others wait their turn."""
    resume_frames: NonNegativeInt = 512
    """Frames each live channel keeps for resumes served from memory (0: none)."""
    resume_window_s: NonNegativeFloat = 60.0
    """How long kept frames stay, and how long a channel without clients stays open."""
    stream_bounds_ttl_s: NonNegativeFloat = 1.0
    """How old the stream's first and last sequence may be when a resume checks for a gap."""
    max_frame_bytes: PositiveInt = 64 * 1024
    close_timeout_s: PositiveFloat = 10.0
    class_owner_ttl_s: NonNegativeFloat = 30.0
    """How long a class's owner (who may watch ``class:<id>``) is kept before persistence is
    asked again."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    common: CommonSettings
    gateway: GatewaySettings
    clients: ClientLimits = msgspec.field(default_factory=ClientLimits)
    """Also ``PULSE_GATEWAY_*``: slow and greedy clients (``header_timeout_s`` …)."""
    websocket: WebSocketSettings

    audit: AuditSettings = msgspec.field(default_factory=AuditSettings)
    """``PULSE_AUDIT_*``: the audit recorder (docs/audit.md)."""
    access: AccessLogSettings = msgspec.field(default_factory=AccessLogSettings)
    """``PULSE_ACCESS_LOG*``, ``PULSE_TRUSTED_PROXIES``: the access log, who the client is."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        return load_service_settings(
            cls, environ, gateway="PULSE_GATEWAY_", clients="PULSE_GATEWAY_", websocket="PULSE_WS_"
        )
