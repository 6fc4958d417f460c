"""The validator against hostile producers: whatever the bytes, it accepts storable points or
raises InvalidMetrics, nothing else (no RecursionError, UnicodeDecodeError, OverflowError ...).

A deterministic generator (a fixed seed, so a failure reproduces) builds the inputs: deep
nesting, invalid UTF-8, lone surrogates, huge and non-finite numbers, wrong types, msgpack
extension types, truncated and bit-flipped messages, extreme times, NUL in stored text.
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Iterator
from datetime import UTC, datetime

import msgspec
import pytest
from pulse_contracts import Codec, SeriesBatch, to_epoch_us
from pulse_ingest.validation import InvalidMetrics, MetricsValidator

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MSGPACK = "application/msgpack"
FIRST_STORABLE_US = to_epoch_us(datetime(1, 1, 1, tzinfo=UTC))
POINT: dict[str, object] = {
    "time": "2026-11-22T11:59:00Z",
    "source": "host-1",
    "name": "cpu",
    "value": 1.5,
    "unit": "%",
    "tags": {"region": "eu"},
}
DEPTHS = [2, 3, 10, 200, 999, 1000, 2_000, 100_000]
HOSTILE_VALUES: list[object] = [
    None,
    True,
    [],
    {},
    "",
    "x" * 100_000,
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "\u2028",
    "é",
    10**400,
    -(10**400),
    2**64,
    -(2**63) - 1,
    1e308,
    -1e308,
    5e-324,
    float("nan"),
    float("inf"),
    float("-inf"),
    "NaN",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59.999999-14:00",
    "2026-11-22T11:59:60Z",
    "2026-02-30T00:00:00Z",
    "2026-11-22T11:59:00",
    "2026-11-22T11:59:00+99:00",
    [POINT],
    {"nested": POINT},
]
# JSON texts a Python encoder would not write: tokens, escapes and bytes straight on the wire.
RAW_JSON_VALUES = [
    b"NaN",
    b"-Infinity",
    b"1e400",
    b"-1e400",
    b"1" + b"0" * 5_000,
    b"0." + b"0" * 5_000 + b"1",
    b'"\\ud800"',
    b'"\\udc00\\ud800"',
    b'"\\u0000"',
    b'"\xff"',
    b'"\xc3"',
    b'"\xed\xa0\x80"',  # a surrogate encoded as UTF-8: not valid UTF-8
    b'"\xf4\x90\x80\x80"',  # above U+10FFFF
    b'"\xc0\xaf"',  # an overlong encoding
    b"[" * 2_000 + b"]" * 2_000,
    b'{"a":' * 2_000 + b"1" + b"}" * 2_000,
]
# msgpack values a Python encoder would not write: extension types, bad UTF-8, deep arrays.
RAW_MSGPACK_VALUES = [
    b"\xd4\x01\x00",  # fixext 1
    b"\xd5\x7f\x00\x00",  # fixext 2
    b"\xd6\xff\x00\x00\x00\x00",  # timestamp 32
    b"\xd7\xff" + b"\xff" * 8,  # timestamp 64 out of range
    b"\xc7\x0c\xff" + b"\xff" * 12,  # timestamp 96 out of range
    b"\xc7\x03\x05abc",  # ext 8
    b"\xc4\x03abc",  # bin 8
    b"\xa2\xff\xfe",  # a str of invalid UTF-8
    b"\xa3\xed\xa0\x80",  # a surrogate encoded as UTF-8
    b"\xcb" + struct.pack(">d", float("nan")),
    b"\xcf" + b"\xff" * 8,  # uint 64 max
    b"\xd3\x80" + b"\x00" * 7,  # int 64 min
    b"\xc1",  # never used
    b"\xdd\xff\xff\xff\xff",  # an array claiming 4 billion items
    b"\xdf\xff\xff\xff\xff",  # a map claiming 4 billion pairs
    b"\xdb\xff\xff\xff\xff",  # a str claiming 4 GiB
    b"\x91" * 2_000 + b"\x90",
    b"\x81\xa1a" * 2_000 + b"\x01",
]


def deep(depth: int, msgpack: bool) -> bytes:
    if msgpack:
        return b"\x91" * depth + b"\x90"
    return b"[" * depth + b"]" * depth


def deep_object(depth: int, msgpack: bool) -> bytes:
    if msgpack:
        return b"\x81\xa1a" * depth + b"\x01"
    return b'{"a":' * depth + b"1" + b"}" * depth


def with_field_raw(field: str, raw: bytes, msgpack: bool) -> bytes:
    """POINT with ``field`` replaced by an already encoded value (placed verbatim)."""
    rest = {key: value for key, value in POINT.items() if key != field}
    if msgpack:
        body = msgspec.msgpack.encode(rest)
        count = body[0] & 0x0F
        return bytes([0x80 | (count + 1)]) + body[1:] + msgspec.msgpack.encode(field) + raw
    body = msgspec.json.encode(rest)
    return body[:-1] + b"," + msgspec.json.encode(field) + b":" + raw + b"}"


def encode(value: object, msgpack: bool) -> bytes | None:
    try:
        if msgpack:
            return msgspec.msgpack.encode(value)
        return json.dumps(value, allow_nan=True).encode()
    except (ValueError, TypeError, OverflowError):  # not encodable this way
        return None


def hostile_inputs(rng: random.Random) -> Iterator[tuple[str, bytes, bool]]:
    """(what, bytes, msgpack?) for every case; randomness only in the flips and garbage."""
    for msgpack in (False, True):
        fmt = "msgpack" if msgpack else "json"
        raws = RAW_MSGPACK_VALUES if msgpack else RAW_JSON_VALUES
        for depth in DEPTHS:
            yield f"{fmt} array nested {depth}", deep(depth, msgpack), msgpack
            yield f"{fmt} object nested {depth}", deep_object(depth, msgpack), msgpack
            for field in (*POINT, "unknown"):
                nested = deep(depth, msgpack)
                yield (
                    f"{fmt} {field} nested {depth}",
                    with_field_raw(field, nested, msgpack),
                    msgpack,
                )
                nested = deep_object(depth, msgpack)
                yield (
                    f"{fmt} {field} object {depth}",
                    with_field_raw(field, nested, msgpack),
                    msgpack,
                )
        for raw in raws:
            yield f"{fmt} raw {raw[:12]!r}", raw, msgpack
            for field in (*POINT, "unknown"):
                yield f"{fmt} {field}={raw[:12]!r}", with_field_raw(field, raw, msgpack), msgpack
            batch = (b"\x92" if msgpack else b"[") + encode(POINT, msgpack)  # type: ignore[operator]
            batch += (b"" if msgpack else b",") + raw + (b"" if msgpack else b"]")
            yield f"{fmt} batch with {raw[:12]!r}", batch, msgpack
        for value in HOSTILE_VALUES:
            for field in (*POINT, "unknown"):
                data = encode({**POINT, field: value}, msgpack)
                if data is not None:
                    yield f"{fmt} {field}={value!r:.30}", data, msgpack
            for tags in ({"k": value}, {str(value)[:50]: "v"}):
                data = encode({**POINT, "tags": tags}, msgpack)
                if data is not None:
                    yield f"{fmt} tags={tags!r:.40}", data, msgpack
            data = encode(value, msgpack)
            if data is not None:
                yield f"{fmt} message={value!r:.30}", data, msgpack
        valid = encode([POINT, {**POINT, "source": "host-2"}], msgpack)
        assert valid is not None
        for cut in range(len(valid)):
            yield f"{fmt} truncated at {cut}", valid[:cut], msgpack
        for flip in range(300):
            damaged = bytearray(valid)
            for _ in range(rng.randint(1, 4)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            yield f"{fmt} flipped #{flip}", bytes(damaged), msgpack
        for garbage in range(100):
            yield f"{fmt} garbage #{garbage}", rng.randbytes(rng.randint(0, 64)), msgpack


def assert_storable(batches: list[SeriesBatch]) -> None:
    """What persistence stores without complaint: PostgreSQL text holds no NUL, times fit."""
    for batch in batches:
        assert batch.times_us
        assert len(batch.times_us) == len(batch.values)
        assert min(batch.times_us) >= FIRST_STORABLE_US
        assert "\x00" not in (batch.unit or "")
        assert not any("\x00" in key or "\x00" in value for key, value in batch.tags.items())


def test_hostile_input_is_refused_with_invalid_metrics_and_nothing_else() -> None:
    validator = MetricsValidator(Codec(), max_future_skew_s=60, max_points=1000)
    seen = 0
    reasons: list[str] = []
    for what, data, msgpack in hostile_inputs(random.Random(20261122)):
        seen += 1
        try:
            batches = validator.validate(data, MSGPACK if msgpack else None, NOW)
        except InvalidMetrics as refused:
            reasons.append(str(refused))
            continue
        except Exception as exc:
            pytest.fail(f"{what}: {type(exc).__name__}: {exc}")
        assert_storable(batches)
    assert seen > 2_000  # the generator really generated
    assert len(reasons) > 1_500
    assert all(reasons)  # and every refusal says why


@pytest.mark.parametrize("msgpack", [False, True], ids=["json", "msgpack"])
def test_over_deep_input_is_refused_with_a_reason(msgpack: bool) -> None:
    validator = MetricsValidator(Codec(), max_future_skew_s=60, max_points=1000)
    unknown = with_field_raw("unknown", deep(100_000, msgpack), msgpack)
    with pytest.raises(InvalidMetrics) as raised:
        validator.validate(unknown, MSGPACK if msgpack else None, NOW)
    fmt = "msgpack" if msgpack else "JSON"
    assert str(raised.value) == f"malformed {fmt}: nested too deeply to decode"
    with pytest.raises(InvalidMetrics) as raised:
        validator.validate(deep(100_000, msgpack), MSGPACK if msgpack else None, NOW)
    assert str(raised.value) == "invalid metric point: Expected `object`, got `array` - at `$[0]`"


def test_invalid_utf8_is_refused_with_a_reason() -> None:
    validator = MetricsValidator(Codec(), max_future_skew_s=60, max_points=1000)
    data = with_field_raw("source", b'"\xff"', msgpack=False)
    with pytest.raises(InvalidMetrics) as raised:
        validator.validate(data, None, NOW)
    assert str(raised.value) == "malformed JSON: invalid UTF-8 in a string (invalid start byte)"
