"""``/healthz`` (the process answers) and ``/readyz`` (its dependencies do), on every Pulse
HTTP app: public, left out of the OpenAPI document and of the access log.

``/readyz`` calls the app's ``readiness`` dependency (:func:`~.app.service_app` provides it)
and answers as the management listener's ``/readyz`` does (:mod:`pulse_runtime.health`).
"""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency

from pulse_runtime.health import ReadinessCheck, readiness_report

PROBE_PATHS = ("/healthz", "/readyz")
"""Probed every few seconds: no access-log line for them (:func:`~.tracing.trace_requests`)."""


@get("/healthz", include_in_schema=False, opt={"access": "public"})
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False, opt={"access": "public"})
async def readyz(readiness: NamedDependency[ReadinessCheck]) -> Response[dict[str, object]]:
    status, body = readiness_report(await readiness())
    return Response(body, status_code=status)


HEALTH_ROUTES = [healthz, readyz]
