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


NUL_POINTS = [
    pytest.param({"unit": "k\x00B"}, "unit", "`$[1].unit`", id="unit"),
    pytest.param({"tags": {"host": "a\x00"}}, "tags", "`$[1].tags[...]`", id="tag-value"),
    pytest.param({"tags": {"ho\x00st": "a"}}, "tags", "`key` in `$[1].tags`", id="tag-key"),
]


@pytest.mark.parametrize("content_type", [None, "application/msgpack"], ids=["json", "msgpack"])
@pytest.mark.parametrize(("bad", "field", "where"), NUL_POINTS)
def test_a_nul_in_stored_text_is_refused_naming_the_field(
    bad: dict[str, object], field: str | None, where: str, content_type: str | None
) -> None:
    """PostgreSQL's text and jsonb cannot hold U+0000: refused here, not by the database."""
    wide = MetricsValidator(Codec(), max_future_skew_s=60, max_points=10)
    points = [point(), {**point(), **bad}]
    data = msgspec.msgpack.encode(points) if content_type else body(*points)
    with pytest.raises(msgspec.ValidationError):
        Codec().decode_producer_metrics(data, content_type)  # the contract refuses it too
    with pytest.raises(InvalidMetrics) as raised:
        wide.validate(data, content_type, NOW)
    assert str(raised.value) == (
        f"invalid metric point: Expected `str` without NUL (U+0000) - at {where}"
    )
    in_key = " (in a key)" if where.startswith("`key`") else ""
    assert [(e.index, e.field, e.reason) for e in raised.value.errors] == [
        (1, field, f"Expected `str` without NUL (U+0000){in_key}")
    ]


def test_text_that_only_looks_like_a_nul_and_unknown_fields_are_accepted() -> None:
    wide = MetricsValidator(Codec(), max_future_skew_s=60, max_points=10)
    data = body(
        {**point(), "unit": "\\u0000", "tags": {"k": "\\u0000"}},  # a backslash, then u0000
        {**point(name="mem"), "comment": "\x00"},  # a field Pulse does not know is ignored
    )
    cpu, _ = wide.validate(data, None, NOW)
    assert (cpu.unit, cpu.tags) == ("\\u0000", {"k": "\\u0000"})


def test_a_time_before_year_1_in_utc_is_refused() -> None:
    """0001-01-01T00:00:00+14:00 parses, but is in year 0 in UTC: nothing can store it."""
    validator = MetricsValidator(Codec(), max_future_skew_s=60, max_points=3)
    data = body({**point(), "time": "0001-01-01T00:00:00+14:00"})
    with pytest.raises(InvalidMetrics) as raised:
        validator.validate(data, None, NOW)
    assert (
        str(raised.value)
        == "point 0: time 0001-01-01T00:00:00+14:00 is before 0001-01-01T00:00:00Z"
    )


@pytest.mark.parametrize("content_type", [None, "application/msgpack"], ids=["json", "msgpack"])
@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"value": "high"}, "invalid metric point: Expected `float`, got `str` - at `$[1].value`"),
        ({"value": float("nan")}, "point 1: value must be a finite number"),
        (
            {"source": "a\n"},
            "invalid metric point: Expected `str` matching regex '^[A-Za-z0-9_-]{1,64}$'"
            " - at `$[1].source`",
        ),
    ],
    ids=["contract", "value", "token"],
)
def test_a_refusal_counts_every_bad_point_though_it_lists_the_first_100(
    bad: dict[str, object], reason: str, content_type: str | None
) -> None:
    if content_type is None and isinstance(bad.get("value"), float):
        pytest.skip("JSON has no NaN")
    wide = MetricsValidator(Codec(), max_future_skew_s=60, max_points=1000)
    points = [point(), *({**point(value=i), **bad} for i in range(150)), point()]
    data = msgspec.msgpack.encode(points) if content_type else body(*points)
    with pytest.raises(InvalidMetrics) as raised:
        wide.validate(data, content_type, NOW)
    more = "errors" if "value must" in reason else "bad points"
    assert str(raised.value) == f"{reason} (and 149 more {more})"
    assert [e.index for e in raised.value.errors] == list(range(1, 101))
