"""Every subject, stream, queue group and durable consumer name, gathered from the domains.

Each domain spells its own names in its contracts (``metrics/subjects.py``,
``accounts/subjects.py``, ``audit/subjects.py``, ``classroom/subjects.py``, ``deadletter.py``,
``live.py``); this module re-exports them all, so that services write ``subjects.X`` and one
page lists every name on the bus. A new domain adds its names here too.
"""

from __future__ import annotations

from .accounts.subjects import AUTH_KEYS, AUTH_QUEUE, AUTH_REVOCATIONS, RPC_AUTH, auth_rpc
from .audit.subjects import (
    AUDIT_QUEUE,
    LOGS_STREAM,
    LOGS_SUBJECTS,
    PERSISTENCE_DEADLETTER_DURABLE,
    PERSISTENCE_LOGS_DURABLE,
    RPC_AUDIT,
    audit_rpc,
    logs_subject,
)
from .classroom.subjects import (
    EVENTS_STREAM,
    EVENTS_SUBJECTS,
    INGEST_EVENTS,
    PERSISTENCE_EVENTS_DURABLE,
    RPC_CLASSROOM,
    RPC_QUERY_CLASS,
    class_query,
    classroom_rpc,
    events_subject,
)
from .deadletter import DEADLETTER_STREAM, DEADLETTER_SUBJECTS, deadletter_subject
from .live import LIVE_PREFIX, live_subject
from .metrics.subjects import (
    INGEST_METRICS,
    INGEST_QUEUE,
    METRICS_STREAM,
    METRICS_SUBJECTS,
    PERSISTENCE_METRICS_DURABLE,
    PERSISTENCE_QUEUE,
    RPC_QUERY_CATALOG,
    RPC_QUERY_METRICS,
    metrics_live_subject,
    metrics_subject,
)
from .notifications.subjects import (
    ALERTS_QUEUE,
    NOTIFICATIONS_STREAM,
    NOTIFICATIONS_SUBJECTS,
    NOTIFY_QUEUE,
    RPC_ALERTS,
    RPC_NOTIFY,
    alerts_rpc,
    notifications_subject,
    notify_rpc,
)

__all__ = [
    "ALERTS_QUEUE",
    "AUDIT_QUEUE",
    "AUTH_KEYS",
    "AUTH_QUEUE",
    "AUTH_REVOCATIONS",
    "DEADLETTER_STREAM",
    "DEADLETTER_SUBJECTS",
    "EVENTS_STREAM",
    "EVENTS_SUBJECTS",
    "INGEST_EVENTS",
    "INGEST_METRICS",
    "INGEST_QUEUE",
    "LIVE_PREFIX",
    "LOGS_STREAM",
    "LOGS_SUBJECTS",
    "METRICS_STREAM",
    "METRICS_SUBJECTS",
    "NOTIFICATIONS_STREAM",
    "NOTIFICATIONS_SUBJECTS",
    "NOTIFY_QUEUE",
    "PERSISTENCE_DEADLETTER_DURABLE",
    "PERSISTENCE_EVENTS_DURABLE",
    "PERSISTENCE_LOGS_DURABLE",
    "PERSISTENCE_METRICS_DURABLE",
    "PERSISTENCE_QUEUE",
    "RPC_ALERTS",
    "RPC_AUDIT",
    "RPC_AUTH",
    "RPC_CLASSROOM",
    "RPC_NOTIFY",
    "RPC_QUERY_CATALOG",
    "RPC_QUERY_CLASS",
    "RPC_QUERY_METRICS",
    "alerts_rpc",
    "audit_rpc",
    "auth_rpc",
    "class_query",
    "classroom_rpc",
    "deadletter_subject",
    "events_subject",
    "live_subject",
    "logs_subject",
    "metrics_live_subject",
    "metrics_subject",
    "notifications_subject",
    "notify_rpc",
]
