"""What every ``rpc.*`` verb of every domain may answer instead of its result."""

from __future__ import annotations

import msgspec


class RpcError(msgspec.Struct, frozen=True, kw_only=True, tag="error"):
    """A refused or failed request. ``code`` is stable and documented; ``message`` is for people."""

    code: str
    message: str
    retry_after_s: int | None = None
