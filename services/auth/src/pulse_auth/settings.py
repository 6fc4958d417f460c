from __future__ import annotations

from collections.abc import Mapping

import msgspec
from pulse_runtime.settings import CommonSettings, DatabaseSettings, load_settings


class AuthSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PULSE_AUTH_*``."""

    host: str = "127.0.0.1"
    port: int = 8004
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    login_failure_limit: int = 5
    login_failure_window_s: float = 15 * 60
    login_base_delay_s: float = 30.0
    login_max_delay_s: float = 15 * 60
    hash_workers: int = 2
    pool_size: int = 5


class AdminSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PULSE_ADMIN_EMAIL`` / ``PULSE_ADMIN_PASSWORD``: the first admin, if none exists."""

    email: str = ""
    password: str = ""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    common: CommonSettings
    auth: AuthSettings
    database: DatabaseSettings
    admin: AdminSettings

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        return cls(
            common=load_settings(CommonSettings, "PULSE_", environ),
            auth=load_settings(AuthSettings, "PULSE_AUTH_", environ),
            database=load_settings(DatabaseSettings, "PULSE_DATABASE_", environ),
            admin=load_settings(AdminSettings, "PULSE_ADMIN_", environ),
        )
