"""Every error the gateway returns is JSON with a stable ``code``."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from pulse_runtime.logging import get_logger

log = get_logger(__name__)


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    code: str
    message: str
    parameter: str | None = None


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


def validation_error_handler(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[ErrorBody]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    first = extra[0] if extra and isinstance(extra[0], dict) else {}
    parameter = first.get("key")
    message = first.get("message") or exc.detail
    return Response(
        ErrorBody(
            code="invalid_parameter",
            message=f"{parameter}: {message}" if parameter else str(message),
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
