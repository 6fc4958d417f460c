"""Query parameters of the metrics routes (and of ``/ws/metrics``), checked with clear errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pulse_contracts import SERIES_TOKEN_PATTERN
from pulse_runtime.web import invalid_parameter, missing_parameter

_SERIES_TOKEN = re.compile(SERIES_TOKEN_PATTERN)
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
