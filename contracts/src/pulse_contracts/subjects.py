"""Subject and stream names: the only place they are spelled out.

Services build subjects through these functions so that a rename is one change here.
"""

from __future__ import annotations

INGEST_METRICS = "ingest.metrics"
"""Core NATS subject where any producer publishes raw metric points (JSON or msgpack)."""

METRICS_STREAM = "METRICS"
METRICS_SUBJECTS = "metrics.>"
LIVE_PREFIX = "live."
"""The METRICS stream republishes each stored message to ``live.<its subject>``, with its
stream sequence in headers, for the gateways' live fan-out (core NATS, no consumer state)."""
DEADLETTER_STREAM = "DEADLETTER"
DEADLETTER_SUBJECTS = "deadletter.>"

RPC_QUERY_METRICS = "rpc.query.metrics"
RPC_QUERY_CATALOG = "rpc.query.catalog"

RPC_AUTH = "rpc.auth"
"""Prefix of the auth service's request/reply verbs: ``rpc.auth.<verb>``."""
AUTH_KEYS = "auth.keys"
AUTH_REVOCATIONS = "auth.revocations"
AUTH_QUEUE = "auth"

INGEST_QUEUE = "ingest"
PERSISTENCE_QUEUE = "persistence"
PERSISTENCE_METRICS_DURABLE = "persistence-metrics"


def metrics_subject(source: str, name: str) -> str:
    """Subject of one validated series in the METRICS stream: ``metrics.<source>.<name>``."""
    return f"metrics.{source}.{name}"


def metrics_live_subject(name: str, source: str | None = None) -> str:
    """Subject pattern a live subscriber uses for one metric name, from one or every source."""
    return f"metrics.{source or '*'}.{name}"


def live_subject(stream_subject: str) -> str:
    """Where the stream republishes ``stream_subject`` (a pattern is mapped alike)."""
    return f"{LIVE_PREFIX}{stream_subject}"


def deadletter_subject(origin: str) -> str:
    """Where a refused message from ``origin`` (e.g. ``ingest.metrics``) is kept."""
    return f"deadletter.{origin.replace('.', '_')}"


def auth_rpc(verb: str) -> str:
    """``rpc.auth.<verb>``, e.g. ``rpc.auth.login``."""
    return f"{RPC_AUTH}.{verb}"
