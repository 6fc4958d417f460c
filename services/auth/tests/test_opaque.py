"""A sealed successor opens only with the refresh token it was sealed under."""

from __future__ import annotations

from pulse_auth.opaque import digest, new_refresh_token, seal, unseal


def test_a_seal_opens_with_its_token_and_with_nothing_else() -> None:
    token = new_refresh_token()
    sealed = seal(token, b"the next pair")
    assert b"the next pair" not in sealed
    assert unseal(token, sealed) == b"the next pair"
    assert unseal(new_refresh_token(), sealed) is None
    # what the database holds of the token (its digest) is not the key
    assert unseal(digest(token).hex(), sealed) is None
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    assert unseal(token, tampered) is None


def test_each_seal_is_different() -> None:
    token = new_refresh_token()
    assert seal(token, b"same") != seal(token, b"same")  # a fresh nonce every time
