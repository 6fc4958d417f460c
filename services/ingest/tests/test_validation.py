from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from pulse_contracts import Codec, SeriesBatch, to_epoch_us
from pulse_ingest.validation import InvalidMetrics, MetricsValidator

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def validator() -> MetricsValidator:
    return MetricsValidator(Codec(), max_future_skew_s=60, max_points=3)


def body(*points: dict[str, object]) -> bytes:
    return json.dumps(list(points)).encode()


def point(
    name: str = "cpu", source: str = "a", value: float = 1.0, at: datetime = NOW
) -> dict[str, object]:
    return {"time": at.isoformat(), "source": source, "name": name, "value": value}


def test_points_are_grouped_by_series_in_arrival_order(validator: MetricsValidator) -> None:
    later = NOW + timedelta(seconds=1)
    batches = validator.validate(
        body(point(value=1), point(name="mem", value=2), point(value=3, at=later)), None, NOW
    )
    assert batches == [
        SeriesBatch(
            source="a",
            name="cpu",
            times_us=[to_epoch_us(NOW), to_epoch_us(later)],
            values=[1.0, 3.0],
        ),
        SeriesBatch(source="a", name="mem", times_us=[to_epoch_us(NOW)], values=[2.0]),
    ]


def test_msgpack_goes_through_the_same_path(validator: MetricsValidator) -> None:
    data = msgspec.msgpack.encode(point())
    [batch] = validator.validate(data, "application/msgpack", NOW)
    assert batch.values == [1.0]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[]", "empty batch: send at least one point"),
        (body(point(), point(), point(), point()), "batch of 4 points exceeds the limit of 3"),
        (
            body(point(at=NOW + timedelta(seconds=61))),
            "point 0: time 2026-11-22T12:01:01+00:00 is more than 60 s in the future",
        ),
        (
            b'{"time": "2026-11-22T12:00:00Z", "source": "a", "name": "cpu"}',
            "invalid metric point: Object missing required field `value`",
        ),
        (b"\xff", "malformed JSON: JSON is malformed: invalid character (byte 0)"),
    ],
)
def test_refusals_say_why(validator: MetricsValidator, data: bytes, reason: str) -> None:
    with pytest.raises(InvalidMetrics) as raised:
        validator.validate(data, None, NOW)
    assert str(raised.value) == reason


def test_non_finite_values_are_refused(validator: MetricsValidator) -> None:
    data = msgspec.msgpack.encode([point(), point(value=float("nan"))])
    with pytest.raises(InvalidMetrics, match=r"^point 1: value must be a finite number$"):
        validator.validate(data, "application/msgpack", NOW)


def test_backfill_of_old_points_is_accepted(validator: MetricsValidator) -> None:
    old = NOW - timedelta(days=400)
    [batch] = validator.validate(body(point(at=old)), None, NOW)
    assert batch.times_us == [to_epoch_us(old)]


def test_every_bad_point_is_reported_with_index_field_and_reason(
    validator: MetricsValidator,
) -> None:
    data = body(point(), {**point(), "value": "high"}, {**point(), "source": "a.b"}, point())
    wide = MetricsValidator(Codec(), max_future_skew_s=60, max_points=10)
    with pytest.raises(InvalidMetrics) as raised:
        wide.validate(data, None, NOW)
    assert str(raised.value) == (
        "invalid metric point: Expected `float`, got `str` - at `$[1].value`"
        " (and 1 more bad points)"
    )
    assert [(e.index, e.field, e.reason) for e in raised.value.errors] == [
        (1, "value", "Expected `float`, got `str`"),
        (2, "source", "Expected `str` matching regex '^[A-Za-z0-9_-]{1,64}$'"),
    ]


def test_msgpack_item_errors_and_future_times_are_listed_too() -> None:
    wide = MetricsValidator(Codec(), max_future_skew_s=60, max_points=10)
    late = NOW + timedelta(hours=1)
    data = msgspec.msgpack.encode([point(at=late), point(), point(value=float("inf"))])
    with pytest.raises(InvalidMetrics) as raised:
        wide.validate(data, "application/msgpack", NOW)
    assert [(e.index, e.field) for e in raised.value.errors] == [(0, "time"), (2, "value")]
    assert str(raised.value).endswith("(and 1 more errors)")


def test_a_single_bad_point_is_listed_as_index_0(validator: MetricsValidator) -> None:
    with pytest.raises(InvalidMetrics) as raised:
        validator.validate(json.dumps({**point(), "value": None}).encode(), None, NOW)
    assert [(e.index, e.field) for e in raised.value.errors] == [(0, "value")]


def test_a_long_series_is_cut_into_messages_that_fit_nats() -> None:
    big = MetricsValidator(Codec(), max_future_skew_s=60, max_points=100_000)
    data = msgspec.json.encode(
        [point(at=NOW - timedelta(seconds=i), value=float(i)) for i in range(45_000)]
    )
    batches = big.validate(data, None, NOW)
    assert [len(b.values) for b in batches] == [20_000, 20_000, 5_000]
    assert [v for b in batches for v in b.values] == [float(i) for i in range(45_000)]
    assert max(len(Codec().pack(b)) for b in batches) < 512 * 1024


@pytest.mark.parametrize(
    "bad",
    [
        {"source": "a.b"},
        {"name": "cpu>"},
        {"name": ""},
        {"source": "x" * 65},
        {"unit": "u" * 33},
        {"tags": {str(i): "v" for i in range(33)}},
        {"time": "2026-11-22T12:00:00"},
        {"value": None},
    ],
)
def test_the_hot_path_refuses_exactly_what_the_contract_refuses(bad: dict[str, object]) -> None:
    wide = MetricsValidator(Codec(), max_future_skew_s=60, max_points=10)
    data = body(point(), {**point(), **bad})
    with pytest.raises(msgspec.ValidationError) as contract:
        Codec().decode_producer_metrics(data, None)
    with pytest.raises(InvalidMetrics) as raised:
        wide.validate(data, None, NOW)
    assert str(raised.value) == f"invalid metric point: {contract.value}"
    assert [e.index for e in raised.value.errors] == [1]


def test_a_token_ending_in_a_newline_is_refused() -> None:
    wide = MetricsValidator(Codec(), max_future_skew_s=60, max_points=10)
    with pytest.raises(InvalidMetrics) as raised:
        wide.validate(body(point(), point(source="a\n")), None, NOW)
    assert str(raised.value) == (
        "invalid metric point: Expected `str` matching regex '^[A-Za-z0-9_-]{1,64}$'"
        " - at `$[1].source`"
    )
    assert [(e.index, e.field) for e in raised.value.errors] == [(1, "source")]


def test_huge_values_that_overflow_a_sum_are_still_accepted(validator: MetricsValidator) -> None:
    [batch] = validator.validate(body(point(value=1e308), point(value=1e308)), None, NOW)
    assert batch.values == [1e308, 1e308]
