"""Which domain answers each ``rpc.auth.*`` request: sessions, users, API keys, signing keys.

The rules live in each domain's package (``sessions/``, ``users/``, ``api_keys/``,
``login_throttle/``, ``signing_keys/``), each beside the SQL of its own rows (``store.py``).
"""

from __future__ import annotations

import asyncpg
from pulse_contracts.accounts import (
    AuthReply,
    AuthRequest,
    CreateApiKey,
    CreateUser,
    KeysRequest,
    ListApiKeys,
    ListUsers,
    LoginRequest,
    LogoutRequest,
    PublicKeys,
    RefreshRequest,
    ResetPassword,
    RevocationsRequest,
    RevokeApiKey,
    UpdateUser,
    VerifyApiKey,
)
from pulse_runtime.access_tokens import SigningKey

from .api_keys import ApiKeys, ApiKeyStore
from .login_throttle import LoginFailureStore, LoginThrottle
from .passwords import Passwords
from .sessions import Sessions, SessionStore
from .settings import AuthSettings
from .signing_keys import public_keys
from .users import PublishRevocation, Users, UserStore


class Authority:
    def __init__(
        self,
        pool: asyncpg.Pool,
        passwords: Passwords,
        signing_keys: list[SigningKey],
        settings: AuthSettings,
        publish_revocation: PublishRevocation,
    ) -> None:
        self._keys = signing_keys
        self._settings = settings
        user_store = UserStore(pool)
        self.users = Users(user_store, passwords, settings, publish_revocation)
        self.api_keys = ApiKeys(ApiKeyStore(pool))
        self.sessions = Sessions(
            SessionStore(pool),
            user_store=user_store,
            users=self.users,
            throttle=LoginThrottle(LoginFailureStore(pool), settings),
            passwords=passwords,
            signing_keys=signing_keys,
            settings=settings,
            publish_revocation=publish_revocation,
        )

    async def handle(self, request: AuthRequest) -> AuthReply:  # noqa: PLR0911, PLR0912
        match request:
            case LoginRequest():
                return await self.sessions.login(request)
            case RefreshRequest():
                return await self.sessions.refresh(request)
            case LogoutRequest():
                return await self.sessions.logout(request)
            case KeysRequest():
                return self.public_keys()
            case RevocationsRequest():
                return await self.sessions.revocations()
            case CreateUser():
                return await self.users.create_user(request)
            case ListUsers():
                return await self.users.list_users(request)
            case UpdateUser():
                return await self.users.update_user(request)
            case ResetPassword():
                return await self.users.reset_password(request)
            case CreateApiKey():
                return await self.api_keys.create_api_key(request)
            case ListApiKeys():
                return await self.api_keys.list_api_keys()
            case RevokeApiKey():
                return await self.api_keys.revoke_api_key(request)
            case VerifyApiKey():
                return await self.api_keys.verify_api_key(request)

    def public_keys(self) -> PublicKeys:
        return public_keys(self._keys, self._settings.access_token_ttl_s)
