"""What the other services need to check access tokens themselves: auth's public keys, and the
tokens revoked before they expire."""

from __future__ import annotations

import msgspec


class KeysRequest(msgspec.Struct, frozen=True, kw_only=True, tag="keys"):
    pass


class PublicKeys(msgspec.Struct, frozen=True, kw_only=True, tag="public_keys"):
    """Published on ``auth.keys`` and answered on ``rpc.auth.keys``: JWKs to verify tokens."""

    keys: list[dict[str, str]]
    access_token_ttl_s: int


class Revocation(msgspec.Struct, frozen=True, kw_only=True, tag="revocation"):
    """Published on ``auth.revocations``: access tokens that stop working before they expire.

    ``user_id`` with ``min_version``: every token of that user with a lower ``ver`` claim
    (a disabled user, a reset password, a changed role). ``jti``: one token (a logout).
    ``until`` (seconds since the epoch) is when the entry can be forgotten: the tokens it
    covers have expired by then.
    """

    until: int
    user_id: str | None = None
    min_version: int | None = None
    jti: str | None = None


class RevocationsRequest(msgspec.Struct, frozen=True, kw_only=True, tag="revocations"):
    pass


class Revocations(msgspec.Struct, frozen=True, kw_only=True, tag="revocation_list"):
    revocations: list[Revocation]
