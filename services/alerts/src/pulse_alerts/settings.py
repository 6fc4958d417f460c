from __future__ import annotations

from collections.abc import Mapping

import msgspec
from pulse_runtime.settings import (
    AuditSettings,
    CommonSettings,
    DatabaseSettings,
    ListenerSettings,
    Port,
    PositiveFloat,
    PositiveInt,
    load_service_settings,
)


class AlertsSettings(ListenerSettings, frozen=True, kw_only=True):
    """``PULSE_ALERTS_*``."""

    port: Port = 8008
    tick_s: PositiveFloat = 1.0
    """How often the timers are looked at (``no_data``, ``student_idle``, ``class_behind``,
    a condition held for its duration) and the notifications not yet sent are retried."""
    standby_poll_s: PositiveFloat = 2.0
    """How often a standby replica tries to become the evaluator."""
    notify_timeout_s: PositiveFloat = 5.0
    """How long to wait for the notifier's answer to a create; unanswered, it is retried."""
    catalog_ttl_s: PositiveFloat = 5.0
    """How long persistence's series catalog is kept for checking rules and previews."""
    class_refresh_s: PositiveFloat = 60.0
    """How often the classes' plans (``planned_cells``) are read again for ``class_behind``."""
    rpc_workers: PositiveInt = 8
    pool_size: PositiveInt = 4


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    common: CommonSettings
    alerts: AlertsSettings
    database: DatabaseSettings

    audit: AuditSettings = msgspec.field(default_factory=AuditSettings)
    """``PULSE_AUDIT_*``: the audit recorder (docs/audit.md)."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        return load_service_settings(cls, environ, alerts="PULSE_ALERTS_")
