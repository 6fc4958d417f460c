"""The request class of Pulse's HTTP services: a body msgspec cannot take apart is the
client's error."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ClientException
from pulse_contracts import UNDECODABLE, undecodable_reason


class UntrustedBodyRequest(Request[Any, Any, Any]):
    """A Litestar request whose JSON or msgpack body, when msgspec cannot take it apart (nested
    too deeply, invalid UTF-8), is a client's error (400) like any malformed body, not an
    internal error (500). Litestar decodes a body to ``Any`` first and expects only
    ``msgspec.DecodeError``; msgspec raises ``RecursionError`` or ``UnicodeDecodeError`` there.
    An app takes it as ``Litestar(request_class=UntrustedBodyRequest)``.
    """

    async def json(self) -> Any:
        try:
            return await super().json()
        except UNDECODABLE as exc:
            raise ClientException(f"malformed body: {undecodable_reason(exc)}") from None

    async def msgpack(self) -> Any:
        try:
            return await super().msgpack()
        except UNDECODABLE as exc:
            raise ClientException(f"malformed body: {undecodable_reason(exc)}") from None
