"""The accounts domain: users, sessions, access tokens and API keys, as auth's ``rpc.auth.*``
requests and replies and its announcements. Its subjects: :mod:`.subjects`.

Every reply is the verb's result or an :class:`~pulse_contracts.rpc.RpcError` (tagged union on
``type``). Secrets (passwords, refresh tokens, API key secrets) travel only inside these
messages over NATS and are never logged.
"""

from pulse_contracts.text import StoredText

from .access_tokens import KeysRequest, PublicKeys, Revocation, Revocations, RevocationsRequest
from .api_keys import (
    ApiKey,
    ApiKeyCreated,
    ApiKeyIdentity,
    ApiKeyList,
    ApiKeyName,
    ApiKeyReply,
    CreateApiKey,
    ListApiKeys,
    RevokeApiKey,
    Scope,
    VerifyApiKey,
)
from .sessions import Done, LoginRequest, LogoutRequest, RefreshRequest, TokenPair
from .users import (
    EMAIL_PATTERN,
    CreateUser,
    Email,
    ListUsers,
    NewPassword,
    Password,
    ResetPassword,
    Role,
    UpdateUser,
    User,
    UserList,
    UserReply,
)
from .verbs import AUTH_VERBS, AuthReply, AuthRequest

__all__ = [
    "AUTH_VERBS",
    "EMAIL_PATTERN",
    "ApiKey",
    "ApiKeyCreated",
    "ApiKeyIdentity",
    "ApiKeyList",
    "ApiKeyName",
    "ApiKeyReply",
    "AuthReply",
    "AuthRequest",
    "CreateApiKey",
    "CreateUser",
    "Done",
    "Email",
    "KeysRequest",
    "ListApiKeys",
    "ListUsers",
    "LoginRequest",
    "LogoutRequest",
    "NewPassword",
    "Password",
    "PublicKeys",
    "RefreshRequest",
    "ResetPassword",
    "Revocation",
    "Revocations",
    "RevocationsRequest",
    "RevokeApiKey",
    "Role",
    "Scope",
    "StoredText",
    "TokenPair",
    "UpdateUser",
    "User",
    "UserList",
    "UserReply",
    "VerifyApiKey",
]
