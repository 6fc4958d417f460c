"""Which keys sign access tokens (the newest), and which keys verifiers are told of (all)."""

from __future__ import annotations

from pulse_contracts.accounts import PublicKeys
from pulse_runtime.access_tokens import SigningKey

from .store import SigningKeyStore


async def load_signing_keys(store: SigningKeyStore) -> list[SigningKey]:
    """The keys to publish, newest last (it signs); one is created on first start."""
    stored = await store.signing_keys()
    if not stored:
        key = SigningKey.generate()
        await store.add_signing_key(key.kid, key.private_pem().decode())
        stored = await store.signing_keys()  # another replica may have raced us: use the DB's
    return [SigningKey.from_pem(kid, pem.encode()) for kid, pem, _ in stored]


def public_keys(keys: list[SigningKey], access_token_ttl_s: int) -> PublicKeys:
    """What ``rpc.auth.keys`` answers and ``auth.keys`` announces."""
    return PublicKeys(
        keys=[key.public_jwk() for key in keys],
        access_token_ttl_s=access_token_ttl_s,
    )
