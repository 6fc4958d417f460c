"""Secrets taken out of what the access log keeps of a request: its headers, its query string
and its JSON bodies.

What counts as a secret is decided in one place for the whole audit trail
(:mod:`pulse_runtime.audit.text_secrets`): a value whose name says it is one (``password``,
``refresh_token``, ``X-API-Key``, ``key`` …, :func:`~pulse_runtime.audit.text_secrets.
is_secret_name`) is replaced by ``[REDACTED]`` whatever it is, and any other text is kept with
what looks like a secret inside it (a JWT, an API key, a refresh token, ``Bearer …``) replaced.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote_plus

from pulse_contracts.codecs import MSGPACK_INTS

from pulse_runtime.audit.text_secrets import REDACTED, is_secret_name, redact_text

MAX_HEADER_CHARS = 1024
"""A header value kept at most (a longer one is cut, ``…`` at its end)."""
MAX_HEADERS = 64
"""Headers kept at most, in the order sent."""
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})
_COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})


def redact_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI headers as the record keeps them: names in lower case, repeated ones joined with
    ``", "``, at most :data:`MAX_HEADERS`, each at most :data:`MAX_HEADER_CHARS`. Credentials
    are redacted: ``Authorization: Bearer [REDACTED]`` (the scheme says how the client
    authenticated), each cookie's value (``pulse_refresh=[REDACTED]``), and any header whose
    name says it holds a secret (``X-API-Key``, ``X-Auth-Token``)."""
    kept: dict[str, str] = {}
    for raw_name, raw_value in headers:
        name = _header_name(raw_name)
        if name in _CREDENTIAL_HEADERS or name in _COOKIE_HEADERS or is_secret_name(name):
            value = _redacted_header(name, raw_value.decode("latin-1"))
        else:  # not a secret: the same value as the last request's costs a look-up
            value = _plain_header_value(raw_value)
        if name in kept:
            kept[name] = f"{kept[name]}, {value}"
        elif len(kept) < MAX_HEADERS:
            kept[name] = value
    return kept


@functools.lru_cache(maxsize=256)
def _header_name(raw_name: bytes) -> str:
    return raw_name.decode("latin-1").lower()


@functools.lru_cache(maxsize=1024)
def _plain_header_value(raw_value: bytes) -> str:
    """A header value whose name is no secret's, with what looks like one in it redacted and
    cut to :data:`MAX_HEADER_CHARS` (cached: most requests repeat their client's headers;
    never the values of credential, cookie or secret-named headers)."""
    return _bounded(redact_text(raw_value.decode("latin-1")))


def _bounded(value: str) -> str:
    return value[:MAX_HEADER_CHARS] + "…" if len(value) > MAX_HEADER_CHARS else value


def _redacted_header(name: str, value: str) -> str:
    return _bounded(_redacted_secret_header(name, value))


def _redacted_secret_header(name: str, value: str) -> str:
    if name in _CREDENTIAL_HEADERS:
        scheme, _, credentials = value.strip().partition(" ")
        return f"{scheme} {REDACTED}" if credentials else REDACTED
    if name in _COOKIE_HEADERS:
        return _redacted_cookies(value, set_cookie=name == "set-cookie")
    return REDACTED


def _redacted_cookies(value: str, *, set_cookie: bool) -> str:
    """Each cookie's name kept, its value redacted (``Set-Cookie``'s attributes kept)."""
    parts = []
    for index, part in enumerate(value.split(";")):
        name, equals, _ = part.partition("=")
        if equals and (not set_cookie or index == 0):
            parts.append(f"{name}={REDACTED}")
        else:
            parts.append(part)
    return ";".join(parts)


def redact_query(query_string: str) -> str:
    """A query string with the values of secret parameters (``token``, ``access_token``,
    ``api_key``, ``key`` …) redacted and secret-looking text in the others; its order and
    spelling otherwise kept."""
    if not query_string:
        return query_string
    parts = []
    for part in query_string.split("&"):
        name, equals, value = part.partition("=")
        if equals and is_secret_name(unquote_plus(name)):
            parts.append(f"{name}={quote(REDACTED)}")
        elif equals:
            # Percent-decoded to find what is hidden in it, encoded again only if it changed.
            plain = unquote_plus(value)
            redacted = redact_text(plain)
            parts.append(part if redacted == plain else f"{name}={quote(redacted)}")
        else:
            parts.append(redact_text(part))
    return "&".join(parts)


MAX_JSON_DEPTH = 32
"""Deeper parts of a JSON value are kept as ``"…"``."""


def redact_json(value: Any, depth: int = 0) -> Any:
    """A JSON value (as msgspec decodes it) with every value under a secret name redacted,
    whatever it is (a string, an object, a list), secret-looking text in every other string
    (keys included) replaced; what ``jsonb`` or the LOGS batches refuse made storable (NUL
    characters removed, non-finite numbers null, huge integers text) and nesting bounded
    (:data:`MAX_JSON_DEPTH`)."""
    if isinstance(value, str):
        return _redacted_string(value)
    if isinstance(value, dict | list):
        return _redacted_container(value, depth)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int) and not MSGPACK_INTS[0] <= value < MSGPACK_INTS[1]:
        return str(value)
    return value


def _redacted_container(value: dict[Any, Any] | list[Any], depth: int) -> Any:
    if depth >= MAX_JSON_DEPTH:
        return "…"
    if isinstance(value, list):
        return [redact_json(item, depth + 1) for item in value]
    return {
        _redacted_string(str(key)): REDACTED
        if is_secret_name(str(key))
        else redact_json(item, depth + 1)
        for key, item in value.items()
    }


def _redacted_string(text: str) -> str:
    return redact_text(text).replace("\x00", "")
