"""REST and WebSocket routes of the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import MediaType, Response, WebSocket, get, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pulse_runtime.health import ReadinessCheck, readiness_report

from .errors import ErrorBody, invalid_parameter, missing_parameter
from .history import HistoryClient
from .live import ClientFeed, LiveHub
from .schemas import MetricPointOut, MetricsHistory
from .tracing import current_traceparent

_SERIES_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
WS_POLICY_VIOLATION = 1008


def parse_time(parameter: str, value: str) -> datetime:
    # A '+' in an unencoded query string arrives as a space: "10:00:00 02:00".
    text = value.strip().replace(" ", "+")
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
    return moment.astimezone(UTC)


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
    summary="History of one metric",
    description="Raw points of one metric (every source, or one) between `from` and `to`.",
    responses={
        400: ResponseSpec(data_container=ErrorBody, description="A bad or missing parameter"),
        503: ResponseSpec(data_container=ErrorBody, description="History is unavailable"),
    },
)
async def metrics_history(
    history: HistoryClient,
    *,
    type_: Annotated[str | None, Parameter(query="type", description="metric name")] = None,
    name: Annotated[str | None, Parameter(description="metric name (same as type)")] = None,
    source: Annotated[str | None, Parameter(description="only this source")] = None,
    from_: Annotated[
        str | None, Parameter(query="from", description="start, ISO 8601 with timezone")
    ] = None,
    to: Annotated[str | None, Parameter(description="end, ISO 8601; default now")] = None,
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
    points = await history.raw_points(metric, start, end, source, current_traceparent.get())
    return MetricsHistory(
        series=[
            MetricPointOut(timestamp=p.time, value=p.value, type=metric, source=p.source)
            for p in points
        ]
    )


@websocket("/ws/metrics")
async def live_metrics(socket: WebSocket[Any, Any, Any], hub: LiveHub) -> None:
    """Each new point of ``type`` (and ``source``, if given) as a JSON text frame."""
    await socket.accept()
    try:
        metric = metric_name(socket.query_params.get("type"), socket.query_params.get("name"))
        source = socket.query_params.get("source")
        if source is not None:
            series_token("source", source)
    except Exception as exc:
        await socket.close(code=WS_POLICY_VIOLATION, reason=str(exc)[:120])
        return
    feed = await hub.join(metric, source)
    sender = asyncio.create_task(_send_frames(socket, feed))
    try:
        await _wait_for_disconnect(socket)
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await sender
        await hub.leave(feed)


async def _send_frames(socket: WebSocket[Any, Any, Any], feed: ClientFeed) -> None:
    while True:
        frame = await feed.queue.get()
        await socket.send_text(frame)


async def _wait_for_disconnect(socket: WebSocket[Any, Any, Any]) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await socket.receive_data(mode="text")


@get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(readiness: ReadinessCheck) -> Response[dict[str, object]]:
    status, body = readiness_report(await readiness())
    return Response(body, status_code=status)


@get("/metrics", include_in_schema=False, media_type=MediaType.TEXT)
async def prometheus_metrics(registry: CollectorRegistry) -> Response[bytes]:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
