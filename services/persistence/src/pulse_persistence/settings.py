from __future__ import annotations

from collections.abc import Mapping

import msgspec
from pulse_runtime.settings import CommonSettings, DatabaseSettings, load_settings


class PersistenceSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PULSE_PERSISTENCE_*`` (the database URL is the common ``PULSE_DATABASE_URL``)."""

    host: str = "127.0.0.1"
    port: int = 8003
    batch_size: int = 500
    writers: int = 2  # batches written at once (each on its own connection)
    batch_timeout_s: float = 0.2
    ack_wait_s: float = 30.0
    retry_delay_s: float = 2.0
    pool_size: int = 10
    max_query_points: int = 100_000
    # TimescaleDB only (ignored on plain PostgreSQL): compress chunks older than this, drop
    # raw rows older than retention_s and rollups older than rollup_retention_s (0 = keep).
    compress_after_s: int = 7 * 24 * 3600
    retention_s: int = 0
    rollup_retention_s: int = 0


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    common: CommonSettings
    persistence: PersistenceSettings
    database: DatabaseSettings

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        return cls(
            common=load_settings(CommonSettings, "PULSE_", environ),
            persistence=load_settings(PersistenceSettings, "PULSE_PERSISTENCE_", environ),
            database=load_settings(DatabaseSettings, "PULSE_DATABASE_", environ),
        )
