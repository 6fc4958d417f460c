"""What ingest's HTTP edge answers when it refuses a request: the error body, the exception a
route raises, and the table of every error status (the OpenAPI document is built from it)."""

from __future__ import annotations

from pulse_runtime import web
from pulse_runtime.web import ApiError, Refusals

from .imports.shapes import ImportSummary, RowError
from .validation import ItemError


class ErrorBody(web.ErrorBody, frozen=True, kw_only=True, omit_defaults=True):
    """Pulse's error body, and for ``invalid_metrics`` / ``invalid_events`` the bad items."""

    errors: list[ItemError] | None = None
    """For ``invalid_metrics`` and ``invalid_events``: each bad point's or event's index,
    field and reason (up to 100)."""
    row: RowError | None = None
    """For ``import_row_invalid``: the row that stopped the import (line, field, reason)."""
    summary: ImportSummary | None = None
    """For a refused import: what it stored before the refusal (the chunks before the bad
    row), its task id and trace id."""


_REFUSAL_HEADERS = {401: {"WWW-Authenticate": "Bearer"}, 503: {"Retry-After": "1"}}


class Refused(ApiError):
    """Ingest's refusals: a 401 says how to authenticate, a 503 when to try again."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[ItemError] | None = None,
        *,
        row: RowError | None = None,
        summary: ImportSummary | None = None,
    ) -> None:
        super().__init__(status, code, message, headers=_REFUSAL_HEADERS.get(status))
        self.body = ErrorBody(
            code=code, message=message, errors=errors or None, row=row, summary=summary
        )


refusals = Refusals(
    {
        400: "The body is refused (`invalid_metrics`, `invalid_events`): `errors` has each bad"
        " point's or event's index, field and reason (up to 100); nothing of it was stored."
        " An import whose client went away midway (`import_incomplete`)",
        401: "No API key (`unauthorized`), or an unknown or revoked one (`invalid_api_key`);"
        " `WWW-Authenticate: Bearer`",
        403: "The API key lacks the route's scope (`forbidden`), or names no class for a"
        " classroom route (`no_class`)",
        404: "The API key's class is not known to Pulse (`class_not_found`)",
        413: "The body is over PULSE_INGEST_MAX_BODY_BYTES (`payload_too_large`), or holds more"
        " than 100 events (`too_many_events`); an import over PULSE_INGEST_IMPORT_MAX_BYTES"
        " (`import_too_large`: `summary` says what was stored before)",
        415: "An import that is neither `text/csv` nor `application/x-ndjson`"
        " (`unsupported_media_type`)",
        422: "An import refused: a row (`import_row_invalid`: `row` has its line, field and"
        " reason; the chunks before it are stored, `summary` says what), a bad CSV header"
        " (`import_header_invalid`), or no rows at all (`import_empty`)",
        503: "API keys cannot be checked (`auth_unavailable`), the class's settings cannot be"
        " read (`classroom_unavailable`), or JetStream did not confirm storing the data"
        " (`not_stored`: send the same body again); `Retry-After`",
    },
    body=ErrorBody,
)
"""Every error status ingest answers with: the OpenAPI document is built from this table."""
