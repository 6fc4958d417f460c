from __future__ import annotations

from collections.abc import Mapping

import msgspec
from pulse_runtime.settings import (
    AuditSettings,
    CommonSettings,
    DatabaseSettings,
    ListenerSettings,
    NonNegativeFloat,
    Port,
    PositiveFloat,
    PositiveInt,
    load_service_settings,
)


class AuthSettings(ListenerSettings, frozen=True, kw_only=True):
    """``PULSE_AUTH_*``."""

    port: Port = 8004
    access_token_ttl_s: PositiveInt = 15 * 60
    refresh_token_ttl_s: PositiveInt = 30 * 24 * 3600
    refresh_grace_s: NonNegativeFloat = 10.0
    """How long after a refresh token is spent presenting it again still gets the same new pair
    (two tabs refreshing at once); later, it is a replay and revokes its chain. 0: never."""
    login_failure_limit: PositiveInt = 5
    login_failure_window_s: PositiveFloat = 15 * 60
    login_base_delay_s: NonNegativeFloat = 30.0
    login_max_delay_s: NonNegativeFloat = 15 * 60
    hash_workers: PositiveInt = 2
    rpc_workers: PositiveInt = 16
    """Requests of one ``rpc.auth.<verb>`` handled at once (each verb has its own
    subscription, so logins waiting for a hash never hold up a key check or a refresh)."""
    pool_size: PositiveInt = 5

    def __post_init__(self) -> None:
        if self.login_max_delay_s < self.login_base_delay_s:
            raise ValueError(
                f"PULSE_AUTH_LOGIN_MAX_DELAY_S={self.login_max_delay_s:g} is below"
                f" PULSE_AUTH_LOGIN_BASE_DELAY_S={self.login_base_delay_s:g}: the delay grows"
                " from the base up to the maximum"
            )


class AdminSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PULSE_ADMIN_EMAIL`` / ``PULSE_ADMIN_PASSWORD``: the first admin, if none exists."""

    email: str = ""
    password: str = ""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    common: CommonSettings
    auth: AuthSettings
    database: DatabaseSettings
    admin: AdminSettings

    audit: AuditSettings = msgspec.field(default_factory=AuditSettings)
    """``PULSE_AUDIT_*``: the audit recorder (docs/audit.md)."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        return load_service_settings(cls, environ, auth="PULSE_AUTH_", admin="PULSE_ADMIN_")
