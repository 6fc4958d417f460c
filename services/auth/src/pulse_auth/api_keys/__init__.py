"""API keys: producers' credentials for ingest, with scopes."""

from .rules import ApiKeys
from .store import ApiKeyStore

__all__ = ["ApiKeyStore", "ApiKeys"]
