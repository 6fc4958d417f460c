"""Opaque secrets (refresh tokens, API keys): 256 random bits, stored only as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

REFRESH_PREFIX = "rt_"
API_KEY_PREFIX = "pk_"


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def new_api_key() -> tuple[str, str]:
    """(public prefix, full secret). The prefix identifies the key in lists and logs."""
    prefix = secrets.token_hex(4)
    return prefix, f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"


def api_key_prefix(secret: str) -> str | None:
    if not secret.startswith(API_KEY_PREFIX):
        return None
    prefix, _, rest = secret[len(API_KEY_PREFIX) :].partition("_")
    return prefix if len(prefix) == 8 and rest else None


def digest(secret: str) -> bytes:
    # A fast hash is right here: the secrets are random and long, so there is nothing to
    # brute-force, unlike passwords.
    return hashlib.sha256(secret.encode()).digest()
