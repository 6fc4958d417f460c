"""What auth decides about API keys: creating, listing and revoking them, and checking a
producer's secret (the answer ingest caches)."""

from __future__ import annotations

import hmac
import uuid

from pulse_contracts import RpcError
from pulse_contracts.accounts import (
    ApiKeyCreated,
    ApiKeyIdentity,
    ApiKeyList,
    ApiKeyReply,
    CreateApiKey,
    RevokeApiKey,
    VerifyApiKey,
)
from pulse_runtime.logging import get_logger

from pulse_auth.ids import not_found, parse_id
from pulse_auth.opaque import api_key_prefix, digest, new_api_key

from .store import ApiKeyStore

log = get_logger(__name__)


class ApiKeys:
    def __init__(self, store: ApiKeyStore) -> None:
        self._store = store

    async def create_api_key(self, request: CreateApiKey) -> ApiKeyCreated:
        prefix, secret = new_api_key()
        api_key = await self._store.create_api_key(
            name=request.name,
            prefix=prefix,
            secret_hash=digest(secret),
            scopes=sorted(set(request.scopes)),
            created_by=parse_id(request.created_by) if request.created_by else None,
            class_id=request.class_id,
        )
        log.info("api key created", api_key_id=api_key.id, prefix=prefix)
        return ApiKeyCreated(api_key=api_key, secret=secret)

    async def list_api_keys(self) -> ApiKeyList:
        return ApiKeyList(api_keys=await self._store.list_api_keys())

    async def revoke_api_key(self, request: RevokeApiKey) -> ApiKeyReply | RpcError:
        key_id = parse_id(request.api_key_id)
        revoked = await self._store.revoke_api_key(key_id) if key_id else None
        if revoked is None:
            return not_found("api key")
        log.info("api key revoked", api_key_id=revoked.id)
        return ApiKeyReply(api_key=revoked)

    async def verify_api_key(self, request: VerifyApiKey) -> ApiKeyIdentity | RpcError:
        invalid = RpcError(code="invalid_api_key", message="unknown or revoked API key")
        prefix = api_key_prefix(request.secret)
        found = await self._store.api_key_by_prefix(prefix) if prefix else None
        if found is None:
            return invalid
        api_key, secret_hash = found
        if not hmac.compare_digest(secret_hash, digest(request.secret)):
            return invalid
        await self._store.mark_api_key_used(uuid.UUID(api_key.id))  # only with the secret
        return ApiKeyIdentity(
            api_key_id=api_key.id,
            name=api_key.name,
            scopes=api_key.scopes,
            class_id=api_key.class_id,
        )
