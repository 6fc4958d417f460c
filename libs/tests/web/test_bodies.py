"""A body as the access log keeps it: JSON redacted within the bound, else a marker; whatever
the bytes, a storable value and no exception."""

from __future__ import annotations

import msgspec
import pytest
from pulse_runtime.web.bodies import PREVIEW_CHARS, BodyCapture, stored_body


def captured(data: bytes, limit: int, chunk: int = 7) -> BodyCapture:
    capture = BodyCapture(limit)
    for start in range(0, len(data), chunk):
        capture.add(data[start : start + chunk])
    return capture


def test_a_capture_keeps_one_byte_past_its_bound_and_counts_everything() -> None:
    capture = captured(b"x" * 10_000, limit=100)
    assert capture.total == 10_000
    assert capture.data == b"x" * 101
    assert captured(b"", limit=10).data == b""


def stored(data: bytes, content_type: str | None = "application/json", limit: int = 1000) -> object:
    capture = captured(data, limit)
    return stored_body(capture.data, capture.total, content_type, limit)


def test_json_within_the_bound_is_kept_as_its_value_redacted() -> None:
    assert stored(b'{"email":"a@b.c","password":"hunter2"}') == {
        "email": "a@b.c",
        "password": "[REDACTED]",
    }
    assert stored(b"[1, 2.5, null, true]") == [1, 2.5, None, True]
    assert stored(b"") is None


def test_text_that_is_not_json_is_kept_as_text_with_secrets_taken_out() -> None:
    assert stored(b"email=a%40b.c&password=hunter2", "application/x-www-form-urlencoded") == {
        "$text": "email=a%40b.c&password=[REDACTED]"
    }
    assert stored(b'{"password": "hunter2", oops') == {"$text": '{"password": [REDACTED], oops'}


def test_a_body_past_the_bound_is_truncated_with_a_redacted_preview() -> None:
    body = b'{"password": "hunter2", "values": [' + b"1," * 5000 + b"1]}"
    kept = stored(body, limit=2000)
    assert isinstance(kept, dict)
    assert kept["$truncated"]["bytes"] == len(body)
    preview = kept["$truncated"]["preview"]
    assert "hunter2" not in preview
    assert preview.startswith('{"password": [REDACTED]')
    assert len(preview) <= PREVIEW_CHARS


def test_binary_bodies_are_a_marker_with_their_size_and_type() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    assert stored(png, "image/png") == {"$binary": {"bytes": len(png), "content_type": "image/png"}}
    assert stored(png * 100, None, limit=100) == {
        "$binary": {"bytes": len(png) * 100, "content_type": None}
    }


def test_msgpack_is_kept_as_json_redacted_and_broken_msgpack_as_binary() -> None:
    packed = msgspec.msgpack.encode({"name": "cpu", "token": "t", "raw": b"\x00\x01"})
    assert stored(packed, "application/msgpack") == {
        "name": "cpu",
        "token": "[REDACTED]",
        "raw": "AAE=",
    }
    assert stored(b"\xc1\xc1", "application/msgpack") == {
        "$binary": {"bytes": 2, "content_type": "application/msgpack"}
    }


def test_a_body_the_handler_never_read_is_truncated_with_its_declared_size() -> None:
    assert stored_body(b"", 42, "application/json", 1000) == {
        "$truncated": {"bytes": 42, "preview": ""}
    }


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe\x00garbage",
        b'{"a": "\\u0000"}',
        b"[" * 100_000,
        b'{"n": 1e999}',
        "é".encode() * 600,  # cut in the middle of a character at the bound
        b"\x00" * 50,
    ],
)
def test_no_body_breaks_it(data: bytes) -> None:
    kept = stored(data, "application/json", limit=1001)
    msgspec.json.encode(kept)  # storable as JSON
    assert "\\u0000" not in msgspec.json.encode(kept).decode()
