from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec
from pulse_contracts.accounts.users import MAX_USERS_PAGE
from pulse_runtime.settings import (
    AuditSettings,
    CommonSettings,
    DatabaseSettings,
    ListenerSettings,
    NonNegativeInt,
    Port,
    PositiveFloat,
    PositiveInt,
    load_service_settings,
)

DirectoryPage = Annotated[int, msgspec.Meta(ge=1, le=MAX_USERS_PAGE)]


class NotifierSettings(ListenerSettings, frozen=True, kw_only=True):
    """``PULSE_NOTIFIER_*``."""

    port: Port = 8007
    pool_size: PositiveInt = 10
    rpc_workers: PositiveInt = 16
    """Requests of one ``rpc.notify.<verb>`` handled at once (each verb has its own
    subscription, so a notification to everyone never holds up an unread count)."""
    auth_timeout_s: PositiveFloat = 10.0
    """How long one page of ``rpc.auth.users.list`` may take when recipients are expanded."""
    directory_page: DirectoryPage = 1000
    """Users asked of auth per ``rpc.auth.users.list`` page (each user is ~150 bytes of a
    reply that must fit one NATS message)."""
    outbox_batch: PositiveInt = 2000
    """Outbox rows published per pass (in one transaction, acks awaited per wave)."""
    outbox_poll_s: PositiveFloat = 1.0
    """The publisher looks at the outbox this often even when not woken: rows another
    replica committed, or left by a process that crashed."""
    publish_timeout_s: PositiveFloat = 5.0
    """How long a JetStream publish waits for its ack before the pass gives up (retried)."""
    archived_retention_days: NonNegativeInt = 30
    """Archived notifications are deleted this many days after they were archived (0: kept)."""
    read_retention_days: NonNegativeInt = 90
    """Read (not archived) notifications are deleted this many days after they were read
    (0: kept)."""
    sweep_interval_s: PositiveFloat = 3600.0
    """How often the retention sweep runs (each replica; deleting is idempotent)."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    common: CommonSettings
    notifier: NotifierSettings
    database: DatabaseSettings

    audit: AuditSettings = msgspec.field(default_factory=AuditSettings)
    """``PULSE_AUDIT_*``: the audit recorder (docs/audit.md)."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        return load_service_settings(cls, environ, notifier="PULSE_NOTIFIER_")
