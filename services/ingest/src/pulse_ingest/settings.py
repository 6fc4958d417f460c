from __future__ import annotations

from collections.abc import Mapping

import msgspec
from pulse_runtime.settings import (
    AccessLogSettings,
    AuditSettings,
    ClientLimits,
    CommonSettings,
    EdgeListenerSettings,
    NonNegativeFloat,
    Port,
    PositiveFloat,
    PositiveInt,
    load_service_settings,
)


class IngestSettings(EdgeListenerSettings, frozen=True, kw_only=True):
    """``PULSE_INGEST_*``."""

    port: Port = 8001
    metrics_port: Port = 8006
    max_body_bytes: PositiveInt = 16 << 20
    api_key_cache_s: NonNegativeFloat = 2.0
    auth_timeout_s: PositiveFloat = 5.0
    max_future_skew_s: NonNegativeFloat = 300.0
    max_points_per_message: PositiveInt = 100_000
    publish_timeout_s: PositiveFloat = 5.0
    workers: PositiveInt = 8  # producer messages handled at once
    class_settings_cache_s: NonNegativeFloat = 5.0  # a class's producer settings, kept
    class_settings_timeout_s: PositiveFloat = 2.0  # waiting for persistence to tell them
    import_max_bytes: PositiveInt = 256 << 20
    """A bulk import's body (``POST /api/v1/imports``) is refused past this (413)."""
    import_max_age_days: PositiveInt = 365
    """Points of a bulk import older than this many days are refused."""
    import_chunk_rows: PositiveInt = 5000
    """Rows of a bulk import validated, stored and recorded as one step together."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    common: CommonSettings
    ingest: IngestSettings
    clients: ClientLimits = msgspec.field(default_factory=ClientLimits)
    """Also ``PULSE_INGEST_*``: slow and greedy clients (``header_timeout_s`` …)."""

    audit: AuditSettings = msgspec.field(default_factory=AuditSettings)
    """``PULSE_AUDIT_*``: the audit recorder (docs/audit.md)."""
    access: AccessLogSettings = msgspec.field(default_factory=AccessLogSettings)
    """``PULSE_ACCESS_LOG*``, ``PULSE_TRUSTED_PROXIES``: the access log, who the client is."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        return load_service_settings(cls, environ, ingest="PULSE_INGEST_", clients="PULSE_INGEST_")
