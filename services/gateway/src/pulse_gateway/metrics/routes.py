"""The metrics REST routes: one metric's history, and the catalog of every series."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from pulse_contracts import SERIES_TOKEN_PATTERN
from pulse_runtime.web import current_traceparent, invalid_parameter, missing_parameter

from pulse_gateway.edge.refusals import refusals

from .history import HistoryClient
from .parameters import MAX_POINTS_LIMIT, metric_name, parse_time, series_token
from .schemas import MetricPointOut, MetricsHistory, SeriesCatalog, SeriesOut


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


ROUTES = [metrics_history, metrics_catalog]
