"""Schemathesis hooks for test_api_conformance (loaded by the CLI through SCHEMATHESIS_HOOKS).

Ingest takes msgpack as well as JSON; schemathesis encodes JSON only, and would leave the
msgpack half of ``POST /api/v1/metrics`` untested without this. Its bulk import takes text
(CSV and JSON lines), sent as the UTF-8 of the string generated.
"""

from __future__ import annotations

from typing import Any

import msgspec
import schemathesis


@schemathesis.serializer("application/msgpack")
def msgpack(_: Any, value: Any) -> bytes | None:
    try:
        return msgspec.msgpack.encode(value)
    except OverflowError:  # an integer beyond 64 bits: msgpack has no such number
        return None


@schemathesis.serializer("text/csv", "application/x-ndjson")
def text(_: Any, value: Any) -> bytes | None:
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogatepass")
