"""The metrics domain's subjects, stream and consumer names: producers publish points on
``ingest.metrics``; ingest stores validated batches in METRICS; persistence answers history
and catalog queries."""

from __future__ import annotations

INGEST_METRICS = "ingest.metrics"
"""Core NATS subject where any producer publishes raw metric points (JSON or msgpack)."""
INGEST_QUEUE = "ingest"

METRICS_STREAM = "METRICS"
METRICS_SUBJECTS = "metrics.>"
"""The METRICS stream also republishes each stored message for the live fan-out
(:func:`pulse_contracts.live.live_subject`)."""

RPC_QUERY_METRICS = "rpc.query.metrics"
RPC_QUERY_CATALOG = "rpc.query.catalog"
PERSISTENCE_QUEUE = "persistence"
PERSISTENCE_METRICS_DURABLE = "persistence-metrics"


def metrics_subject(source: str, name: str) -> str:
    """Subject of one validated series in the METRICS stream: ``metrics.<source>.<name>``."""
    return f"metrics.{source}.{name}"


def metrics_live_subject(name: str, source: str | None = None) -> str:
    """Subject pattern a live subscriber uses for one metric name, from one or every source."""
    return f"metrics.{source or '*'}.{name}"
