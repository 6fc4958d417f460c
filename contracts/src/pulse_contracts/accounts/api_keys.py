"""API keys: how programs authenticate to ingest; created and revoked by admins, verified for
ingest."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from pulse_contracts.text import STORABLE, StoredText

Scope = Literal["ingest:metrics", "ingest:events"]
ApiKeyName = Annotated[str, msgspec.Meta(min_length=1, max_length=100), STORABLE]


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    class_id: str | None = None
    """A class's producer key names its class (ADR 0023); None for any other key."""


class CreateApiKey(msgspec.Struct, frozen=True, kw_only=True, tag="create_api_key"):
    name: ApiKeyName
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1)]
    created_by: StoredText | None = None
    class_id: StoredText | None = None


class ApiKeyCreated(msgspec.Struct, frozen=True, kw_only=True, tag="api_key_created"):
    """The only time the secret exists outside the caller: it is stored hashed."""

    api_key: ApiKey
    secret: str


class ListApiKeys(msgspec.Struct, frozen=True, kw_only=True, tag="list_api_keys"):
    pass


class ApiKeyList(msgspec.Struct, frozen=True, kw_only=True, tag="api_key_list"):
    api_keys: list[ApiKey]


class RevokeApiKey(msgspec.Struct, frozen=True, kw_only=True, tag="revoke_api_key"):
    api_key_id: StoredText


class ApiKeyReply(msgspec.Struct, frozen=True, kw_only=True, tag="api_key"):
    api_key: ApiKey


class VerifyApiKey(msgspec.Struct, frozen=True, kw_only=True, tag="verify_api_key"):
    secret: StoredText  # its prefix is looked up


class ApiKeyIdentity(msgspec.Struct, frozen=True, kw_only=True, tag="api_key_identity"):
    """A valid, unrevoked key; ``scopes`` is what it may do."""

    api_key_id: str
    name: str
    scopes: list[Scope]
    class_id: str | None = None
