"""The edge of a Pulse HTTP service (Litestar; the ``web`` extra), shared by the gateway and
ingest, one module per concern:

- :mod:`.app`: :func:`service_app`, the app with the shared defaults, built by each service's
  app factory;
- :mod:`.errors`: the one JSON error body, :class:`ApiError`, the error handlers, and the
  OpenAPI responses that document refusals;
- :mod:`.health`: ``/healthz`` and ``/readyz``;
- :mod:`.access`: routes that declare who may use them;
- :mod:`.tracing`: the request's trace context and its access-log line;
- :mod:`.requests`: the request class for untrusted bodies.
"""

from .access import access_of, document_access, undeclared_routes
from .app import RouteAccess, ServiceDocument, service_app
from .errors import (
    ERROR_HANDLERS,
    ApiError,
    ErrorBody,
    Refusals,
    invalid_parameter,
    missing_parameter,
)
from .health import HEALTH_ROUTES, PROBE_PATHS
from .requests import UntrustedBodyRequest
from .tracing import current_traceparent, trace_requests

__all__ = [
    "ERROR_HANDLERS",
    "HEALTH_ROUTES",
    "PROBE_PATHS",
    "ApiError",
    "ErrorBody",
    "Refusals",
    "RouteAccess",
    "ServiceDocument",
    "UntrustedBodyRequest",
    "access_of",
    "current_traceparent",
    "document_access",
    "invalid_parameter",
    "missing_parameter",
    "service_app",
    "trace_requests",
    "undeclared_routes",
]
