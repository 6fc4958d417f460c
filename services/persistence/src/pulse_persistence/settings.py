from __future__ import annotations

from collections.abc import Mapping

import msgspec
from pulse_runtime.settings import (
    AuditSettings,
    CommonSettings,
    DatabaseSettings,
    ListenerSettings,
    NonNegativeFloat,
    NonNegativeInt,
    Port,
    PositiveFloat,
    PositiveInt,
    load_service_settings,
)


class PersistenceSettings(ListenerSettings, frozen=True, kw_only=True):
    """``PULSE_PERSISTENCE_*`` (the database URL is the common ``PULSE_DATABASE_URL``)."""

    port: Port = 8003
    batch_size: PositiveInt = 500
    writers: PositiveInt = 2  # batches written at once (each on its own connection)
    batch_timeout_s: PositiveFloat = 0.2
    ack_wait_s: PositiveFloat = 30.0
    retry_delay_s: NonNegativeFloat = 2.0
    pool_size: PositiveInt = 10
    max_query_points: PositiveInt = 100_000
    # TimescaleDB only (ignored on plain PostgreSQL): compress chunks older than this, drop
    # raw rows older than retention_s and rollups older than rollup_retention_s (0 = keep).
    compress_after_s: NonNegativeInt = 7 * 24 * 3600
    retention_s: NonNegativeInt = 0
    rollup_retention_s: NonNegativeInt = 0
    # TimescaleDB only: after a commit that wrote points older than a rollup's refresh window
    # (backfill), its buckets are refreshed; writes within this delay share one refresh.
    backfill_refresh_delay_s: NonNegativeFloat = 1.0
    # The admins' audit views (rpc.audit.*): requests answered at once per verb, and how long
    # a replayed dead letter waits for ingest's answer or JetStream's acknowledgement.
    audit_workers: PositiveInt = 4
    replay_timeout_s: PositiveFloat = 5.0

    def __post_init__(self) -> None:
        if self.pool_size <= self.writers:
            raise ValueError(
                f"PULSE_PERSISTENCE_POOL_SIZE={self.pool_size} leaves no connection for history"
                f" queries beside PULSE_PERSISTENCE_WRITERS={self.writers} writers: make it at"
                f" least {self.writers + 1}"
            )


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    common: CommonSettings
    persistence: PersistenceSettings
    database: DatabaseSettings

    audit: AuditSettings = msgspec.field(default_factory=AuditSettings)
    """``PULSE_AUDIT_*``: the audit recorder (docs/audit.md)."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        return load_service_settings(cls, environ, persistence="PULSE_PERSISTENCE_")
