"""The keys access tokens are signed with, and the public keys verifiers check them with."""

from .rules import load_signing_keys, public_keys
from .store import SigningKeyStore

__all__ = ["SigningKeyStore", "load_signing_keys", "public_keys"]
