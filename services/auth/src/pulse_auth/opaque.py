"""Opaque secrets (refresh tokens, API keys): 256 random bits, stored only as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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


# A refresh token's successor is kept, for the grace period, sealed under a key derived from
# the spent token: only a caller presenting that token can open it (the database holds only
# the token's SHA-256, a different derivation), so a copy of the database does not reveal it.
_SEAL_CONTEXT = b"pulse-auth refresh successor v1"
_NONCE_BYTES = 12


def seal(secret: str, plaintext: bytes) -> bytes:
    """``plaintext`` encrypted and authenticated (AES-256-GCM) under a key from ``secret``."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + AESGCM(_seal_key(secret)).encrypt(nonce, plaintext, _SEAL_CONTEXT)


def unseal(secret: str, sealed: bytes) -> bytes | None:
    """What :func:`seal` sealed with ``secret``; None if ``sealed`` is not that."""
    nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    try:
        return AESGCM(_seal_key(secret)).decrypt(nonce, ciphertext, _SEAL_CONTEXT)
    except InvalidTag:
        return None


def _seal_key(secret: str) -> bytes:
    return hmac.digest(secret.encode(), _SEAL_CONTEXT, "sha256")
