"""Secrets taken out of free text (an error message, a stack trace) before it is recorded.

A trace can hold anything a frame's locals or an exception's message held: an access token
(a JWT, ``eyJ…``), an API key (``pk_…``), a refresh token (``rt_…``), ``password=…`` in a URL
or a repr, an ``Authorization: Bearer …`` header. What looks like one is replaced by
:data:`REDACTED`; the rest of the text is kept, so the trace still says where it broke.
"""

from __future__ import annotations

import functools
import re

REDACTED = "[REDACTED]"

_SENSITIVE_NAMES = (
    r"pass(?:word|wd|phrase)?|secret|client_secret|token|access_token|refresh_token|id_token"
    r"|api[_-]?key|apikey|x-api-key|authorization|cookie|set-cookie|session|credentials?"
    r"|private[_-]?key|signing[_-]?key"
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A JWT: three base64url parts, the first an encoded JSON object ("eyJ" is '{"').
    (re.compile(r"eyJ[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*){1,2}"), REDACTED),
    # Pulse's opaque secrets: API keys (pk_<prefix>_<secret>) and refresh tokens (rt_<secret>).
    (re.compile(r"\b(?:pk|rt)_[A-Za-z0-9_-]{8,}"), REDACTED),
    # A URL's user:password@.
    (re.compile(r"(?<=://)([^/\s:@]+):[^/\s@]+@"), rf"\1:{REDACTED}@"),
    # Bearer/Basic credentials wherever they appear.
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    # name=value, name: value, "name": "value", 'name': 'value' (a repr, a query string, JSON).
    (
        re.compile(
            rf"""(?ix)
            (?P<name>["']?\b[\w-]*(?:{_SENSITIVE_NAMES})\b["']?)
            (?P<sep>\s*[=:]\s*)
            (?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;&)}}\]]+)
            """
        ),
        rf"\g<name>\g<sep>{REDACTED}",
    ),
)


_SECRET_NAME_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "credential",
    "private_key",
    "signing_key",
    "session",
)
_SECRET_NAMES = frozenset({"key", "pem", "private_pem", "jwt"})
"""Names that are secrets only whole (``key``: an API key's secret), not as a part
(``monkey``)."""
_NOT_SECRET_SUFFIXES = ("_id", "_ids", "_at", "_type")
"""What names a secret's id, time or kind (``api_key_id``, ``token_type``), not the secret."""


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a value called ``name`` (a JSON key, a query parameter, a header) holds a
    secret: ``password``, ``new_password``, ``refresh_token``, ``X-API-Key``, ``key`` …"""
    lowered = name.lower().replace("-", "_")
    if lowered in _SECRET_NAMES:
        return True
    return not lowered.endswith(_NOT_SECRET_SUFFIXES) and any(
        part in lowered for part in _SECRET_NAME_PARTS
    )


_SUSPECT = re.compile(
    "eyj|pk_|rt_|://|bearer|basic|pass|secret|token|api|auth|cookie|session|credential"
    "|private|signing"
)
"""Something each pattern above needs (in lower case: JWTs, Pulse's opaque secrets, a URL, a
scheme, a sensitive name): most text has none, and is let through after this one search of
literals instead of five patterns (a timestamp took 18 µs through all five)."""


def redact_text(text: str) -> str:
    """``text`` with whatever looks like a secret replaced by :data:`REDACTED`."""
    if not _SUSPECT.search(text.lower()):
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
