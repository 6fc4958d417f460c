"""The ``rpc.auth.<verb>`` requests, their replies, and the verb of each request."""

from __future__ import annotations

from pulse_contracts.rpc import RpcError

from .access_tokens import KeysRequest, PublicKeys, Revocations, RevocationsRequest
from .api_keys import (
    ApiKeyCreated,
    ApiKeyIdentity,
    ApiKeyList,
    ApiKeyReply,
    CreateApiKey,
    ListApiKeys,
    RevokeApiKey,
    VerifyApiKey,
)
from .sessions import Done, LoginRequest, LogoutRequest, RefreshRequest, TokenPair
from .users import CreateUser, ListUsers, ResetPassword, UpdateUser, UserList, UserReply

AuthRequest = (
    LoginRequest
    | RefreshRequest
    | LogoutRequest
    | KeysRequest
    | RevocationsRequest
    | CreateUser
    | ListUsers
    | UpdateUser
    | ResetPassword
    | CreateApiKey
    | ListApiKeys
    | RevokeApiKey
    | VerifyApiKey
)
AuthReply = (
    TokenPair
    | Done
    | PublicKeys
    | Revocations
    | UserList
    | UserReply
    | ApiKeyCreated
    | ApiKeyList
    | ApiKeyReply
    | ApiKeyIdentity
    | RpcError
)


AUTH_VERBS: dict[type[AuthRequest], str] = {
    LoginRequest: "login",
    RefreshRequest: "refresh",
    LogoutRequest: "logout",
    KeysRequest: "keys",
    RevocationsRequest: "revocations",
    CreateUser: "users.create",
    ListUsers: "users.list",
    UpdateUser: "users.update",
    ResetPassword: "users.reset_password",
    CreateApiKey: "apikeys.create",
    ListApiKeys: "apikeys.list",
    RevokeApiKey: "apikeys.revoke",
    VerifyApiKey: "apikeys.verify",
}
"""Each request has its own subject ``rpc.auth.<verb>``, so NATS permissions can allow a
service exactly the verbs it needs (ingest: ``apikeys.verify`` only)."""
