"""The app as an HTTP service's server runs it: the middleware that must see every request,
including those no route answered (404, 405), wrapped around the whole app."""

from __future__ import annotations

from collections.abc import Iterable

from litestar import Litestar
from litestar.types import ASGIApp

from pulse_runtime.settings import AccessLogSettings

from .access_log import record_access
from .client_address import TrustedProxies, resolve_clients
from .latency import RequestLatency
from .tracing import trace_requests


def served_edge(
    app: Litestar,
    inner: ASGIApp,
    *,
    service: str,
    quiet_paths: Iterable[str],
    access: AccessLogSettings,
    latency: RequestLatency | None = None,
) -> ASGIApp:
    """``inner`` (``app``, or ``app`` inside the service's own layers) with, from the outside
    in: the client's address resolved (trusted proxies), the trace context with its log line
    on ``pulse_<service>.access`` and its ``latency``, and the access log into
    ``app.state.audit`` (unless off). ``quiet_paths`` (probes, scrapes) get no log line, no
    latency and no record."""
    quiet = tuple(quiet_paths)
    recorded = record_access(app, access, service=service, quiet_paths=quiet)(inner)
    traced = trace_requests(f"pulse_{service}.access", quiet, latency)(recorded)
    return resolve_clients(TrustedProxies(access.trusted_proxies))(traced)
