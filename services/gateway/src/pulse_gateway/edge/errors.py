"""Every error the gateway returns is JSON with a stable ``code``."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import ResponseSpec
from pulse_contracts import SERIES_TOKEN_PATTERN
from pulse_contracts.accounts import EMAIL_PATTERN
from pulse_contracts.text import STORABLE_TEXT_PATTERN
from pulse_runtime.logging import get_logger

log = get_logger(__name__)


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    code: str
    message: str
    parameter: str | None = None


REFUSALS: dict[int, str] = {
    400: "A parameter or the body breaks a rule (`invalid_parameter`, `missing_parameter`,"
    " `bad_request`, …); `parameter` names it",
    401: "No valid credentials (`unauthorized`, with `WWW-Authenticate: Bearer`), or refused"
    " ones (`invalid_credentials`, `invalid_refresh_token`, `refresh_token_reused`)",
    403: "The route needs the admin role (`forbidden`)",
    404: "No such user or API key (`not_found`)",
    409: "A conflict: `email_taken`, or `cannot_change_self` (an admin disabling or demoting"
    " themselves)",
    413: "The body is over the limit (`payload_too_large`)",
    429: "Too many failed logins (`too_many_attempts`): wait `Retry-After` seconds",
    503: "A service behind the gateway is not answering (`auth_unavailable`,"
    " `history_unavailable`): retry later",
    504: "History took too long to answer (`history_timeout`)",
}
"""Every error status the gateway answers with, and when: the OpenAPI document is built from
this table (:func:`refusals`), so each operation declares its refusals with their real body."""


def refusals(*statuses: int) -> dict[int, ResponseSpec]:
    """The ``responses=`` of a route that may answer these error statuses, each an ErrorBody."""
    return {
        status: ResponseSpec(
            data_container=ErrorBody, description=REFUSALS[status], generate_examples=False
        )
        for status in statuses
    }


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(code=code, message=message, parameter=parameter)
        self.headers = headers


def invalid_parameter(parameter: str, message: str) -> ApiError:
    return ApiError(400, "invalid_parameter", f"{parameter}: {message}", parameter=parameter)


def missing_parameter(parameter: str) -> ApiError:
    return ApiError(
        400, "missing_parameter", f"{parameter}: this parameter is required", parameter=parameter
    )


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def api_error_handler(_: Request[Any, Any, Any], exc: ApiError) -> Response[ErrorBody]:
    return Response(exc.body, status_code=exc.status, headers=exc.headers)


_BODY = "data"
"""Litestar's name for the request body as a whole in a validation error's ``key``."""
_RULES = {
    f"Expected `str` matching regex {STORABLE_TEXT_PATTERN!r}": "must not contain NUL (U+0000)",
    f"Expected `str` matching regex {SERIES_TOKEN_PATTERN!r}": "use 1-64 of A-Z a-z 0-9 _ -",
    f"Expected `str` matching regex {EMAIL_PATTERN!r}": "not an email address",
}
"""msgspec names a broken pattern by its regular expression; people get the rule instead."""


def _public_name(request: Request[Any, Any, Any], key: str) -> str:
    """A parameter as the client spells it (``type``), not as the handler does (``type_``)."""
    field = request.route_handler.parsed_fn_signature.parameters.get(key)
    kwarg = field.kwarg_definition if field is not None else None
    alias = getattr(kwarg, "name", None) or getattr(kwarg, "query", None)
    return alias if isinstance(alias, str) else key


def validation_error_handler(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[ErrorBody]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    key = first.get("key")
    parameter = _public_name(request, key) if isinstance(key, str) else None
    message = str(first.get("message") or exc.detail)
    message = _RULES.get(message, message)
    if parameter == _BODY and first.get("source") == "body":
        # The body as a whole: absent (Litestar found no `data` at all), or of the wrong type.
        required = message == repr(_BODY)
        return Response(
            ErrorBody(
                code="bad_request",
                message="request body: required" if required else f"request body: {message}",
            ),
            status_code=400,
        )
    return Response(
        ErrorBody(
            code="invalid_parameter",
            message=f"{parameter}: {message}" if parameter else message,
            parameter=parameter,
        ),
        status_code=400,
    )


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    return Response(
        ErrorBody(code=_CODES.get(exc.status_code, "error"), message=exc.detail),
        status_code=exc.status_code,
        headers=exc.headers,
    )


def internal_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """A bug: logged with its traceback (and the request's trace id), answered as JSON."""
    log.error("unhandled error", exc_info=exc)
    return Response(
        ErrorBody(code="internal_error", message="something went wrong; it has been logged"),
        status_code=500,
    )
