"""``pulse_http_request_duration_seconds``: how long each HTTP service takes to answer, by
route (its template, so a user id in a path makes no new series), method and status class.

Observed by the tracing middleware (:func:`~.tracing.trace_requests`), which times every
request anyway: from the request's arrival at the app to the last byte of its answer.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from pulse_runtime.telemetry import histogram

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
"""The route of a request no route took (404, or refused before routing)."""


class RequestLatency:
    """The histogram of one service's HTTP requests."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self._service = service
        self._histogram: Histogram = histogram(
            registry,
            "pulse_http_request_duration_seconds",
            "HTTP requests answered, by service, method, route template and status class"
            " (2xx, 4xx …), from arrival to the answer's last byte",
            BUCKETS,
            ("service", "method", "route", "status"),
        )

    def observe(self, method: str, route: str | None, status: int, seconds: float) -> None:
        self._histogram.labels(
            self._service,
            method if method in METHODS else "OTHER",
            route or UNMATCHED,
            f"{status // 100}xx" if 100 <= status < 600 else "5xx",
        ).observe(seconds)
