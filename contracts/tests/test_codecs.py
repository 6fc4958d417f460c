from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from pulse_contracts import (
    CatalogQuery,
    Codec,
    MetricPoint,
    MetricsQuery,
    RpcError,
    SeriesBatch,
    decode_untrusted,
    from_epoch_us,
    is_msgpack,
    subjects,
    to_epoch_us,
)

FORMATS = {
    "json": (msgspec.json.encode, "application/json"),
    "msgpack": (msgspec.msgpack.encode, "application/msgpack"),
}
POINT = {"time": "2026-11-22T10:00:00.5+01:00", "source": "host-1", "name": "cpu", "value": 12}


@pytest.fixture(params=sorted(FORMATS))
def encoded(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    encode, content_type = FORMATS[request.param]
    return lambda obj: (encode(obj), content_type)


def test_single_point_decodes_in_both_formats(encoded) -> None:  # type: ignore[no-untyped-def]
    data, content_type = encoded(POINT)
    point = Codec().decode_producer_metrics(data, content_type)
    assert point == MetricPoint(
        time=datetime(2026, 11, 22, 10, 0, 0, 500000, tzinfo=timezone(timedelta(hours=1))),
        source="host-1",
        name="cpu",
        value=12.0,
    )


def test_batch_is_an_array_of_points(encoded) -> None:  # type: ignore[no-untyped-def]
    data, content_type = encoded([POINT, {**POINT, "unit": "percent", "tags": {"dc": "a"}}])
    batch = Codec().decode_producer_metrics(data, content_type)
    assert isinstance(batch, list)
    assert [p.unit for p in batch] == [None, "percent"]
    assert batch[1].tags == {"dc": "a"}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            {"time": "2026-11-22T10:00:00"},
            "Expected `datetime` with a timezone component - at `$.time`",
        ),
        (
            {"source": "a.b"},
            "Expected `str` matching regex '^[A-Za-z0-9_-]{1,64}$' - at `$.source`",
        ),
        ({"value": "high"}, "Expected `float`, got `str` - at `$.value`"),
        ({"name": 5}, "Expected `str`, got `int` - at `$.name`"),
    ],
)
def test_invalid_points_name_the_field(encoded, change, error) -> None:  # type: ignore[no-untyped-def]
    data, content_type = encoded({**POINT, **change})
    with pytest.raises(msgspec.ValidationError) as raised:
        Codec().decode_producer_metrics(data, content_type)
    assert str(raised.value) == error


def test_unknown_fields_are_ignored_so_old_readers_accept_newer_messages(encoded) -> None:  # type: ignore[no-untyped-def]
    data, content_type = encoded({**POINT, "added_in_a_later_version": [1, 2]})
    point = Codec().decode_producer_metrics(data, content_type)
    assert isinstance(point, MetricPoint)
    assert point.name == "cpu"


def test_msgpack_timestamp_extension_is_accepted() -> None:
    moment = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    data = msgspec.msgpack.encode({**POINT, "time": moment})
    point = Codec().decode_producer_metrics(data, "application/msgpack")
    assert isinstance(point, MetricPoint)
    assert point.time == moment


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (None, False),
        ("application/json", False),
        ("application/msgpack", True),
        ("application/x-msgpack; charset=binary", True),
        ("Application/Vnd.Msgpack", True),
    ],
)
def test_content_type_selects_the_format(content_type: str | None, expected: bool) -> None:
    assert is_msgpack(content_type) is expected


def test_series_batch_round_trips_through_msgpack() -> None:
    codec = Codec()
    batch = SeriesBatch(
        source="s", name="n", times_us=[1, 2], values=[0.5, 1.5], unit="u", tags={"k": "v"}
    )
    assert codec.series_batch.decode(codec.pack(batch)) == batch


def test_epoch_microseconds_are_exact() -> None:
    moment = datetime(2026, 11, 22, 10, 0, 0, 123457, tzinfo=UTC)
    assert to_epoch_us(moment) == 1_795_341_600_123_457
    assert from_epoch_us(to_epoch_us(moment)) == moment
    assert to_epoch_us(moment.astimezone(timezone(timedelta(hours=-5)))) == to_epoch_us(moment)


def test_query_replies_are_a_tagged_union() -> None:
    codec = Codec()
    error = RpcError(code="too_many_points", message="narrow it")
    assert codec.metrics_query_reply.decode(codec.pack(error)) == error
    query = MetricsQuery(name="cpu", start=from_epoch_us(0), end=from_epoch_us(10))
    assert codec.metrics_query.decode(codec.pack(query)) == query


class GatewayBeforeParts(msgspec.Struct, frozen=True, kw_only=True, tag="metrics_query"):
    """MetricsQuery as gateways sent it before answers came in parts (ADR 12)."""

    name: str
    start: datetime
    end: datetime
    source: str | None = None
    limit: int = 100_000
    max_points: int | None = None


def test_part_bytes_travel_and_older_queries_take_no_parts() -> None:
    codec = Codec()
    start, end = from_epoch_us(0), from_epoch_us(10)
    older = codec.pack(GatewayBeforeParts(name="cpu", start=start, end=end))
    assert codec.metrics_query.decode(older).part_bytes == 0
    newer = MetricsQuery(name="cpu", start=start, end=end, part_bytes=65536)
    assert codec.metrics_query.decode(codec.pack(newer)) == newer
    # An older reader ignores the new field.
    old_reader = msgspec.msgpack.Decoder(GatewayBeforeParts)
    assert old_reader.decode(codec.pack(newer)) == GatewayBeforeParts(
        name="cpu", start=start, end=end
    )
    assert codec.catalog_query.decode(codec.pack(CatalogQuery())).part_bytes == 0
    assert codec.catalog_query.decode(codec.pack(CatalogQuery(part_bytes=1024))).part_bytes == 1024
    with pytest.raises(
        msgspec.ValidationError, match=r"^Expected `int` >= 0 - at `\$.part_bytes`$"
    ):
        codec.metrics_query.decode(codec.pack({**msgspec.to_builtins(newer), "part_bytes": -1}))


def test_subject_names() -> None:
    assert subjects.metrics_subject("host-1", "cpu") == "metrics.host-1.cpu"
    assert subjects.metrics_live_subject("cpu") == "metrics.*.cpu"
    assert subjects.metrics_live_subject("cpu", "sim") == "metrics.sim.cpu"
    assert subjects.deadletter_subject("ingest.metrics") == "deadletter.ingest_metrics"


class Tagged(msgspec.Struct, tag="t"):
    text: str


@pytest.mark.parametrize(
    ("decoder", "data", "reason"),
    [
        # A field the decoder skips is walked all the same: msgspec raises RecursionError.
        (msgspec.json.Decoder(MetricPoint), b'{"x":' + b"[" * 5000, "nested too deeply"),
        (msgspec.msgpack.Decoder(Any), b"\x91" * 100_000, "nested too deeply"),
        (msgspec.json.Decoder(list[msgspec.Raw]), b"[" * 100_000, "nested too deeply"),
        # A tagged union's string field, and Any: UnicodeDecodeError.
        (msgspec.json.Decoder(Tagged), b'{"type":"t","text":"\xff"}', "invalid UTF-8"),
        (msgspec.msgpack.Decoder(Any), b"\xa1\xff", "invalid UTF-8"),
    ],
)
def test_untrusted_input_raises_only_decode_errors(decoder: Any, data: bytes, reason: str) -> None:
    with pytest.raises(msgspec.DecodeError, match=reason):
        decode_untrusted(decoder, data)


def test_decode_untrusted_returns_what_the_decoder_returns() -> None:
    assert decode_untrusted(msgspec.json.Decoder(list[int]), "[1, 2]") == [1, 2]
    with pytest.raises(msgspec.ValidationError, match="Expected `int`"):
        decode_untrusted(msgspec.json.Decoder(list[int]), b'["a"]')
