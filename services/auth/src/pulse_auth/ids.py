"""Ids as requests name them: a UUID in any spelling, or nothing; and the answer for nothing."""

from __future__ import annotations

import uuid

from pulse_contracts import RpcError


def parse_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def not_found(what: str) -> RpcError:
    return RpcError(code="not_found", message=f"no such {what}")
