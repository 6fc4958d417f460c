"""Sessions: logging in, refreshing the token pair, logging out."""

from __future__ import annotations

import msgspec

from pulse_contracts.text import StoredText

from .users import User


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
