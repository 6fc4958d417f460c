"""Schemathesis hooks for test_api_conformance (loaded by the CLI through SCHEMATHESIS_HOOKS).

Ingest takes msgpack as well as JSON; schemathesis encodes JSON only, and would leave the
msgpack half of ``POST /api/v1/metrics`` untested without this.
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
