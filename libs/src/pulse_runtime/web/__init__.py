"""The edge of a Pulse HTTP service (Litestar; the ``web`` extra), shared by the gateway and
ingest, one module per concern:

- :mod:`.app`: :func:`service_app`, the app with the shared defaults, built by each service's
  app factory;
- :mod:`.errors`: the one JSON error body, :class:`ApiError`, the error handlers, and the
  OpenAPI responses that document refusals;
- :mod:`.health`: ``/healthz`` and ``/readyz``;
- :mod:`.access`: routes that declare who may use them;
- :mod:`.tracing`: the request's trace context, its log line and its latency
  (:mod:`.latency`);
- :mod:`.access_log`: the audit trail's record of each request, with :mod:`.redaction`,
  :mod:`.bodies` and :mod:`.client_address` (trusted proxies);
- :mod:`.requests`: the request class for untrusted bodies.
"""

from .access import access_of, document_access, undeclared_routes
from .access_log import record_access, socket_record, user_id_of
from .app import RouteAccess, ServiceDocument, service_app
from .client_address import TrustedProxies, resolve_clients
from .edge import served_edge
from .errors import (
    ERROR_HANDLERS,
    ApiError,
    ErrorBody,
    Refusals,
    invalid_parameter,
    missing_parameter,
)
from .health import HEALTH_ROUTES, PROBE_PATHS
from .latency import RequestLatency
from .requests import UntrustedBodyRequest
from .tracing import current_traceparent, trace_requests

__all__ = [
    "ERROR_HANDLERS",
    "HEALTH_ROUTES",
    "PROBE_PATHS",
    "ApiError",
    "ErrorBody",
    "Refusals",
    "RequestLatency",
    "RouteAccess",
    "ServiceDocument",
    "TrustedProxies",
    "UntrustedBodyRequest",
    "access_of",
    "current_traceparent",
    "document_access",
    "invalid_parameter",
    "missing_parameter",
    "record_access",
    "resolve_clients",
    "served_edge",
    "service_app",
    "socket_record",
    "trace_requests",
    "undeclared_routes",
    "user_id_of",
]
