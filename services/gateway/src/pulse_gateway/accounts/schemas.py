"""JSON shapes of the accounts REST routes.

Where a REST shape is the same as a contract's, the route takes or answers the contract's
Struct itself: :class:`~pulse_contracts.accounts.User` and
:class:`~pulse_contracts.accounts.ApiKey`. The shapes here differ from the ``rpc.auth.*``
messages they are relayed as, each for the reason its docstring gives; besides, every such
message is tagged (a ``type`` field in its JSON) and named for the bus, so reusing one would
add a field to the body and rename its component in the OpenAPI document (and the dashboard's
generated types).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from pulse_contracts.accounts import ApiKey, ApiKeyName, Email, NewPassword, Role, Scope
from pulse_contracts.text import STORABLE


class LoginBody(msgspec.Struct, frozen=True, kw_only=True):
    """What :class:`~pulse_contracts.accounts.LoginRequest` takes from the client: its
    ``client_ip`` is the connection's, never the body's."""

    email: Annotated[str, msgspec.Meta(max_length=254), STORABLE]
    password: Annotated[str, msgspec.Meta(max_length=1024)]


class RefreshBody(msgspec.Struct, frozen=True, kw_only=True):
    """Browsers send nothing: their refresh token is the HttpOnly cookie (so, unlike
    :class:`~pulse_contracts.accounts.RefreshRequest`'s, it may be left out)."""

    refresh_token: str | None = None


class TokenResponse(msgspec.Struct, frozen=True, kw_only=True):
    """A :class:`~pulse_contracts.accounts.TokenPair` as OAuth clients expect it: with
    ``token_type``, without the user (``GET /api/v1/auth/me`` says who) and without the
    refresh token's lifetime (the cookie's ``Max-Age``)."""

    access_token: str
    expires_in: int
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret


class Me(msgspec.Struct, frozen=True, kw_only=True):
    """The caller, from their access token's claims (no ``rpc.auth`` call, no contract)."""

    id: str
    email: str
    role: str


class NewUser(msgspec.Struct, frozen=True, kw_only=True):
    """The fields of :class:`~pulse_contracts.accounts.CreateUser`, which is a tagged
    ``rpc.auth`` message (see the module's docstring)."""

    email: Email
    password: NewPassword
    role: Role = "user"


class UserChange(msgspec.Struct, frozen=True, kw_only=True):
    """:class:`~pulse_contracts.accounts.UpdateUser` without ``user_id``: the path has it."""

    role: Role | None = None
    disabled: bool | None = None


class PasswordReset(msgspec.Struct, frozen=True, kw_only=True):
    """:class:`~pulse_contracts.accounts.ResetPassword` without ``user_id``: the path has it."""

    password: NewPassword


class NewApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """:class:`~pulse_contracts.accounts.CreateApiKey` without ``created_by``: the caller is
    the admin the access token names, never what the body claims."""

    name: ApiKeyName
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1)]


class CreatedApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """``secret`` is shown this once; Pulse keeps only its hash. The fields of
    :class:`~pulse_contracts.accounts.ApiKeyCreated`, which is a tagged ``rpc.auth`` reply."""

    api_key: ApiKey
    secret: str
