"""W3C trace context (``traceparent``) carried in NATS headers from the first hop onwards."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from contextlib import AbstractContextManager

import structlog

TRACEPARENT = "traceparent"
_TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


def _id(bits: int) -> str:
    """``bits`` random bits as lowercase hex, never all zero (which W3C declares invalid).

    Trace and span ids must be unique, not secret (W3C trace context): the ``random`` module's
    generator (seeded from the OS, and again in a forked child, by Python itself) instead of
    ``secrets``, whose system call per id was 1.5 % of ingest's CPU under load (a span id per
    JetStream publish)."""
    return f"{random.getrandbits(bits) or 1:0{bits // 4}x}"


def new_traceparent() -> str:
    return f"00-{_id(128)}-{_id(64)}-01"


def child_traceparent(parent: str) -> str:
    """Same trace, a new span id: what the next hop stamps on what it publishes."""
    match = _TRACEPARENT_RE.match(parent)
    if match is None:
        return new_traceparent()
    return f"00-{match.group(1)}-{_id(64)}-01"


def trace_id_of(traceparent: str | None) -> str | None:
    if traceparent is None:
        return None
    match = _TRACEPARENT_RE.match(traceparent)
    return match.group(1) if match else None


def traceparent_from(headers: Mapping[str, str] | None) -> str:
    """The incoming trace context, or a new one when the producer sent none (or a bad one)."""
    incoming = (headers or {}).get(TRACEPARENT)
    if incoming is not None and _TRACEPARENT_RE.match(incoming):
        return incoming
    return new_traceparent()


def logged_with_trace_of(headers: Mapping[str, str] | None) -> AbstractContextManager[None]:
    """Within it, every log line carries the trace id of the message with these ``headers``
    (structlog contextvars; the previous binding comes back on leaving). Enter it per message,
    not per batch: a batch holds many traces."""
    return structlog.contextvars.bound_contextvars(
        trace_id=trace_id_of((headers or {}).get(TRACEPARENT))
    )
