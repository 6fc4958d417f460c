"""REST and WebSocket routes of the gateway."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Response, WebSocket, get, websocket
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from pulse_contracts import SERIES_TOKEN_PATTERN
from pulse_runtime.health import ReadinessCheck, readiness_report
from pulse_runtime.web import current_traceparent

from .channels import parse_channel
from .errors import ApiError, invalid_parameter, missing_parameter, refusals
from .fanout import ChannelHub, Delivery
from .history import HistoryClient
from .schemas import MetricPointOut, MetricsHistory, SeriesCatalog, SeriesOut
from .security import KeyRing
from .settings import GatewaySettings
from .websocket_auth import SocketSession

_SERIES_TOKEN = re.compile(SERIES_TOKEN_PATTERN)
WS_POLICY_VIOLATION = 1008
MAX_POINTS_LIMIT = 2**31 - 1
"""The largest ``max_points`` the gateway passes on (persistence's own limit is lower, and
configured); beyond it a number is refused here rather than overflowing a message."""


def parse_time(parameter: str, value: str) -> datetime:
    # A '+' in an unencoded query string arrives as a space: "10:00:00 02:00". RFC 3339 lets
    # the 'T' and 'Z' be lower case; fromisoformat wants them upper case.
    text = value.strip().replace(" ", "+").upper()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid_parameter(
            parameter, f"{value!r} is not an ISO 8601 time, e.g. 2026-11-22T10:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise invalid_parameter(
            parameter, f"{value!r} has no timezone; add 'Z' or an offset such as +02:00"
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-02:00 is in year 10000 in UTC
        raise invalid_parameter(parameter, f"{value!r} is out of range in UTC") from None


def series_token(parameter: str, value: str) -> str:
    if _SERIES_TOKEN.fullmatch(value) is None:
        raise invalid_parameter(parameter, f"{value!r} is not valid: use 1-64 of A-Z a-z 0-9 _ -")
    return value


def metric_name(type_: str | None, name: str | None) -> str:
    """``type=`` (the foundation's form) and ``name=`` mean the same thing."""
    if type_ and name and type_ != name:
        raise invalid_parameter("name", "'type' and 'name' name the same thing; give one")
    if name:
        return series_token("name", name)
    if type_:
        return series_token("type", type_)
    raise missing_parameter("type")


@get(
    "/api/v1/metrics",
    opt={"access": "user"},
    summary="History of one metric",
    description="Raw points of one metric (every source, or one) between `from` and `to`.",
    responses=refusals(400, 503, 504),
)
async def metrics_history(
    history: NamedDependency[HistoryClient],
    *,
    type_: Annotated[
        str | None,
        QueryParameter(
            name="type",
            pattern=SERIES_TOKEN_PATTERN,
            description="metric name (`type` or `name` is required)",
        ),
    ] = None,
    name: Annotated[
        str | None,
        QueryParameter(
            pattern=SERIES_TOKEN_PATTERN,
            description="the metric name, as `type` is (give one of them)",
        ),
    ] = None,
    source: Annotated[
        str | None, QueryParameter(pattern=SERIES_TOKEN_PATTERN, description="only this source")
    ] = None,
    from_: Annotated[
        str | None,
        QueryParameter(
            name="from",
            required=True,  # refused by the handler when absent: `missing_parameter`
            description="start, ISO 8601 with timezone",
            format="date-time",
        ),
    ] = None,
    to: Annotated[
        str | None,
        QueryParameter(description="end, ISO 8601 with timezone; default now", format="date-time"),
    ] = None,
    max_points: Annotated[
        int | None,
        QueryParameter(
            ge=1,
            le=MAX_POINTS_LIMIT,
            description="at most this many buckets per series (min/max/avg/count each);"
            " persistence refuses more than its limit (100,000 by default)",
        ),
    ] = None,
) -> MetricsHistory:
    metric = metric_name(type_, name)
    if source is not None:
        series_token("source", source)
    if from_ is None:
        raise missing_parameter("from")
    start = parse_time("from", from_)
    end = parse_time("to", to) if to is not None else datetime.now(UTC)
    if end <= start:
        raise invalid_parameter("to", "must be later than 'from'")
    result = await history.metrics(
        metric, start, end, source, current_traceparent.get(), max_points=max_points
    )
    if max_points is None:
        return MetricsHistory(
            series=[
                MetricPointOut(timestamp=p.time, value=p.value, type=metric, source=p.source)
                for p in result.points
            ],
            resolution="raw",
        )
    return MetricsHistory(
        series=[
            MetricPointOut(
                timestamp=b.time,
                value=b.avg,
                type=metric,
                source=b.source,
                min=b.min,
                max=b.max,
                avg=b.avg,
                count=b.count,
            )
            for b in result.buckets
        ],
        resolution=result.resolution,
        bucket_seconds=result.bucket_seconds or None,
    )


@get(
    "/api/v1/metrics/catalog",
    opt={"access": "user"},
    summary="Every series",
    description="Every series with its unit, tags, latest value and time.",
    responses=refusals(503, 504),
)
async def metrics_catalog(history: NamedDependency[HistoryClient]) -> SeriesCatalog:
    catalog = await history.catalog(current_traceparent.get())
    return SeriesCatalog(
        series=[
            SeriesOut(
                name=s.name,
                source=s.source,
                unit=s.unit,
                tags=s.tags,
                latest_time=s.latest_time,
                latest_value=s.latest_value,
            )
            for s in catalog.series
        ]
    )


@websocket("/ws/metrics", opt={"access": "user"})
async def live_metrics(
    socket: WebSocket[Any, Any, Any],
    hub: NamedDependency[ChannelHub],
    keyring: NamedDependency[KeyRing],
    settings: NamedDependency[GatewaySettings],
) -> None:
    """Each new point of ``type`` (and ``source``, if given) as a JSON text frame.

    Authentication: ``Authorization: Bearer`` on the handshake (scripts), or a first message
    ``{"type": "auth", "token": "..."}`` (browsers: a URL ends up in logs). A later auth
    message replaces the token; at its expiry, without a fresh one, the socket is closed
    with 4401. It is the ``metric:<type>`` (or ``series:<source>:<type>``) channel of
    ``/ws``, one point per frame; both share the channel's NATS subscription.
    """
    await socket.accept()
    try:
        metric = metric_name(socket.query_params.get("type"), socket.query_params.get("name"))
        source = socket.query_params.get("source")
        if source is not None:
            series_token("source", source)
    except ApiError as exc:
        await socket.close(code=WS_POLICY_VIOLATION, reason=str(exc)[:120])
        return
    session = await SocketSession.open(socket, keyring)
    if session is None:
        return
    spec = parse_channel(f"series:{source}:{metric}" if source else f"metric:{metric}")
    feed = PointFeed(settings.client_queue_size)
    await hub.join(spec, feed)
    tasks = [
        asyncio.create_task(_send_frames(socket, feed)),
        asyncio.create_task(session.read_until_closed()),
        asyncio.create_task(session.expire()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await hub.leave(spec.name, feed)


class PointFeed:
    """A ``/ws/metrics`` client: a bounded queue of point frames; a client that falls behind
    loses its oldest frames and never slows the others."""

    def __init__(self, capacity: int) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=capacity)

    def deliver(self, delivery: Delivery) -> None:
        for frame in delivery.point_frames():
            if self.queue.full():
                self.queue.get_nowait()
            self.queue.put_nowait(frame)


async def _send_frames(socket: WebSocket[Any, Any, Any], feed: PointFeed) -> None:
    while True:
        frame = await feed.queue.get()
        await socket.send_text(frame)


@get("/healthz", include_in_schema=False, opt={"access": "public"})
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False, opt={"access": "public"})
async def readyz(readiness: NamedDependency[ReadinessCheck]) -> Response[dict[str, object]]:
    status, body = readiness_report(await readiness())
    return Response(body, status_code=status)
