"""Every error a Pulse HTTP service answers is JSON with a stable ``code``: one body, one set
of handlers, and the OpenAPI responses that document them.

A route refuses with :class:`ApiError` (its own code); Litestar's own refusals (404, 405, 413,
a malformed body), a parameter that breaks its rules and a bug (500, logged, never a
traceback) get the same body from :data:`ERROR_HANDLERS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import ResponseSpec
from litestar.types import ExceptionHandlersMap
from pulse_contracts import SERIES_TOKEN_PATTERN
from pulse_contracts.accounts import EMAIL_PATTERN
from pulse_contracts.text import STORABLE_TEXT_PATTERN

from pulse_runtime.logging import get_logger

log = get_logger(__name__)


class ErrorBody(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The body of every error answer: a stable ``code`` for programs, a ``message`` for
    people, and the ``parameter`` at fault when there is one.

    A service whose refusals say more extends it (ingest's lists a refused batch's bad
    points) under the same name, and documents that with :class:`Refusals`' ``body``.
    """

    code: str
    message: str
    parameter: str | None = None
    """The query parameter or body field at fault (``invalid_parameter``, ...)."""


class ApiError(Exception):
    """A refusal a route raises: answered as its ``body`` with ``status`` and ``headers``
    (a subclass may set a richer body, an :class:`ErrorBody` subclass)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        parameter: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ErrorBody(code=code, message=message, parameter=parameter)
        self.headers = dict(headers) if headers else None


def invalid_parameter(parameter: str, message: str) -> ApiError:
    return ApiError(400, "invalid_parameter", f"{parameter}: {message}", parameter=parameter)


def missing_parameter(parameter: str) -> ApiError:
    return ApiError(
        400, "missing_parameter", f"{parameter}: this parameter is required", parameter=parameter
    )


class Refusals:
    """A service's error statuses and when it answers each, as its OpenAPI document says them:
    ``refusals(400, 503)`` is the ``responses=`` of a route that may answer those, each a
    ``body`` (:class:`ErrorBody`, or the service's extension of it) with the status's
    description."""

    def __init__(
        self, descriptions: Mapping[int, str], *, body: type[ErrorBody] = ErrorBody
    ) -> None:
        self.descriptions = dict(descriptions)
        self.body = body

    def __call__(self, *statuses: int) -> dict[int, ResponseSpec]:
        return {
            status: ResponseSpec(
                data_container=self.body,
                description=self.descriptions[status],
                generate_examples=False,
            )
            for status in statuses
        }


CODES = {
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
"""The ``code`` of a refusal Litestar raised (no route chose one), by status; else ``error``."""


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
    """A parameter or body field that breaks its rules: ``invalid_parameter`` naming it; the
    body as a whole (absent, or of the wrong type): ``bad_request``."""
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
        ErrorBody(code=CODES.get(exc.status_code, "error"), message=exc.detail),
        status_code=exc.status_code,
        headers=exc.headers,  # a 405's Allow, a 401's WWW-Authenticate
    )


def internal_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """A bug: logged with its traceback (and the request's trace id), answered as JSON."""
    log.error("unhandled error", exc_info=exc)
    return Response(
        ErrorBody(code="internal_error", message="something went wrong; it has been logged"),
        status_code=500,
    )


ERROR_HANDLERS: ExceptionHandlersMap = {
    ApiError: api_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}
"""The ``exception_handlers`` of every Pulse HTTP app (:func:`~.app.service_app`)."""
