"""``POST /api/v1/imports``: a file of historical points (CSV or JSON lines) imported in chunks,
with an API key of scope ``ingest:metrics`` (the scope of ``POST /api/v1/metrics``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.exceptions import InternalServerException
from litestar.openapi.spec import Operation
from pulse_runtime.logging import get_logger
from pulse_runtime.tracing import TRACEPARENT, traceparent_from
from pulse_runtime.web import current_traceparent

from pulse_ingest.refusals import Refused, refusals
from pulse_ingest.storing import NotStored

from .formats import CSV, NDJSON
from .importer import MetricsImport
from .outcomes import ImportIncomplete, ImportRefused, RowInvalid
from .shapes import ImportSummary

log = get_logger(__name__)

_CSV_EXAMPLE = "time,source,name,value,unit\n2026-11-22T10:00:00Z,boiler-1,temperature,71.5,C\n"
_NDJSON_EXAMPLE = (
    '{"time": "2026-11-22T10:00:00Z", "source": "boiler-1", "name": "temperature",'
    ' "value": 71.5, "unit": "C"}\n'
)


async def _body(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    """The request's body as it arrives; a client gone midway is the client's refusal."""
    try:
        async for piece in request.stream():
            yield piece
    except InternalServerException:  # Litestar's word for "client disconnected"
        raise ImportIncomplete("the body ended early: the client went away") from None


class _ImportUpload(Operation):
    """The body is read as a stream of lines, so Litestar cannot see what it takes: this says
    it."""

    def to_schema(self) -> dict[str, Any]:
        schema = super().to_schema()
        schema["requestBody"] = {
            "description": "A CSV file with the header `time,source,name,value` or"
            " `time,source,name,value,unit`, or JSON lines: one point object per line, as"
            " `POST /api/v1/metrics` takes it",
            "required": True,
            "content": {
                CSV: {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
                NDJSON: {"schema": {"type": "string"}, "example": _NDJSON_EXAMPLE},
            },
        }
        return schema


@post(
    "/api/v1/imports",
    status_code=201,
    summary="Import historical metric points from a file",
    opt={"access": "ingest:metrics"},
    responses=refusals(400, 413, 415, 422, 503),
    operation_class=_ImportUpload,
    # The import's own limit (PULSE_INGEST_IMPORT_MAX_BYTES), counted as the body streams in.
    request_max_body_size=None,
)
async def post_import(
    request: Request[Any, Any, Any], imports: NamedDependency[MetricsImport]
) -> ImportSummary:
    """Points of the past (CSV or JSON lines by ``Content-Type``), validated like every point
    and stored a chunk at a time (``PULSE_INGEST_IMPORT_CHUNK_ROWS``); 201 with the summary
    once all are stored. The import is a task (``metrics_import``) whose steps (``parse``,
    ``chunk 1`` …) appear in the task log as they happen. A refused row stops it: the chunks
    before it are stored, 422 ``import_row_invalid`` names its line, field and reason. The
    same file imported again stores each point once."""
    traceparent = current_traceparent.get(None) or traceparent_from(
        {TRACEPARENT: request.headers.get(TRACEPARENT, "")}
    )
    try:
        return await imports.run(
            _body(request), request.headers.get("content-type"), request.content_length, traceparent
        )
    except ImportRefused as refused:
        row = refused.row if isinstance(refused, RowInvalid) else None
        raise Refused(
            refused.status, refused.code, str(refused), row=row, summary=refused.summary
        ) from None
    except NotStored as failed:
        cause = failed.__cause__
        log.error("import not stored", error=f"{type(cause).__name__}: {cause}")
        raise Refused(503, "not_stored", str(failed)) from None


IMPORT_ROUTES = [post_import]
