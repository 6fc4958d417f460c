from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pulse_gateway.metrics.parameters import metric_name, parse_time
from pulse_runtime.web import ApiError


def test_times_need_a_timezone_and_are_normalised_to_utc() -> None:
    assert parse_time("from", "2026-11-22T12:00:00+02:00") == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert parse_time("from", "2026-11-22T10:00:00Z") == datetime(2026, 11, 22, 10, tzinfo=UTC)
    # an unencoded '+' arrives as a space
    assert parse_time("to", "2026-11-22T12:00:00 02:00") == datetime(2026, 11, 22, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "from: 'yesterday' is not an ISO 8601 time, e.g. 2026-11-22T10:00:00Z"),
        (
            "2026-11-22T10:00:00",
            "from: '2026-11-22T10:00:00' has no timezone; add 'Z' or an offset such as +02:00",
        ),
    ],
)
def test_bad_times_name_the_parameter(value: str, message: str) -> None:
    with pytest.raises(ApiError) as raised:
        parse_time("from", value)
    assert raised.value.body.message == message
    assert raised.value.body.parameter == "from"


def test_type_and_name_are_one_parameter() -> None:
    assert metric_name("cpu", None) == "cpu"
    assert metric_name(None, "cpu") == "cpu"
    assert metric_name("cpu", "cpu") == "cpu"
    with pytest.raises(ApiError, match="give one"):
        metric_name("cpu", "mem")
    with pytest.raises(ApiError) as raised:
        metric_name(None, None)
    assert raised.value.body.code == "missing_parameter"
