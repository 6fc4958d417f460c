"""``/healthz`` (the process answers) and ``/readyz`` (its dependencies do)."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency
from pulse_runtime.health import ReadinessCheck, readiness_report


@get("/healthz", include_in_schema=False, opt={"access": "public"})
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False, opt={"access": "public"})
async def readyz(readiness: NamedDependency[ReadinessCheck]) -> Response[dict[str, object]]:
    status, body = readiness_report(await readiness())
    return Response(body, status_code=status)


ROUTES = [healthz, readyz]
