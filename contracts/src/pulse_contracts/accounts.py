"""Accounts, tokens and API keys: the ``rpc.auth.*`` requests and their replies.

Every reply is the verb's result or an :class:`RpcError` (tagged union on ``type``). Secrets
(passwords, refresh tokens, API key secrets) travel only inside these messages over NATS and
are never logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from .queries import RpcError
from .text import STORABLE

Role = Literal["admin", "user"]
Scope = Literal["ingest:metrics", "ingest:events"]
EMAIL_PATTERN = r"^[^@\s\x00]+@[^@\s\x00]+$"
"""Something@something, without spaces; msgspec takes one pattern per type, so this one also
refuses NUL, as :data:`~pulse_contracts.text.STORABLE` would."""
Email = Annotated[
    str,
    msgspec.Meta(
        min_length=3, max_length=254, pattern=EMAIL_PATTERN, description="an email address"
    ),
]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
NewPassword = Annotated[str, msgspec.Meta(min_length=12, max_length=1024)]
"""Passwords are only ever hashed, never stored as text: any character may be in one."""
StoredText = Annotated[str, STORABLE]
"""Text that reaches auth's tables (or a query on them): an email to look up, an id, a name."""
ApiKeyName = Annotated[str, msgspec.Meta(min_length=1, max_length=100), STORABLE]


class User(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    email: str
    role: Role
    disabled: bool
    created_at: datetime
    updated_at: datetime


class TokenPair(msgspec.Struct, frozen=True, kw_only=True, tag="token_pair"):
    access_token: str
    refresh_token: str
    expires_in: int
    user: User
    refresh_expires_in: int = 0


class LoginRequest(msgspec.Struct, frozen=True, kw_only=True, tag="login"):
    email: StoredText
    password: str
    client_ip: str = ""


class RefreshRequest(msgspec.Struct, frozen=True, kw_only=True, tag="refresh"):
    refresh_token: str


class LogoutRequest(msgspec.Struct, frozen=True, kw_only=True, tag="logout"):
    user_id: StoredText
    refresh_token: str | None = None
    access_jti: StoredText | None = None
    access_exp: int = 0


class Done(msgspec.Struct, frozen=True, kw_only=True, tag="done"):
    pass


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


class CreateUser(msgspec.Struct, frozen=True, kw_only=True, tag="create_user"):
    email: Email
    password: NewPassword
    role: Role = "user"


class ListUsers(msgspec.Struct, frozen=True, kw_only=True, tag="list_users"):
    pass


class UserList(msgspec.Struct, frozen=True, kw_only=True, tag="user_list"):
    users: list[User]


class UpdateUser(msgspec.Struct, frozen=True, kw_only=True, tag="update_user"):
    user_id: StoredText
    role: Role | None = None
    disabled: bool | None = None


class ResetPassword(msgspec.Struct, frozen=True, kw_only=True, tag="reset_password"):
    user_id: StoredText
    password: NewPassword


class UserReply(msgspec.Struct, frozen=True, kw_only=True, tag="user"):
    user: User


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    prefix: str
    scopes: list[Scope]
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class CreateApiKey(msgspec.Struct, frozen=True, kw_only=True, tag="create_api_key"):
    name: ApiKeyName
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1)]
    created_by: StoredText | None = None


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
