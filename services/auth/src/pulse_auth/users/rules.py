"""What auth decides about accounts: creating users, changing their role or state, resetting
their password, and ending the access tokens such a change makes stale."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

from pulse_contracts import RpcError
from pulse_contracts.accounts import (
    CreateUser,
    ListUsers,
    ResetPassword,
    Revocation,
    UpdateUser,
    UserList,
    UserReply,
)
from pulse_runtime.logging import get_logger

from pulse_auth.ids import not_found, parse_id
from pulse_auth.passwords import Passwords
from pulse_auth.settings import AuthSettings

from .store import EmailTaken, UserStore

log = get_logger(__name__)

PublishRevocation = Callable[[Revocation], Awaitable[None]]


class Users:
    def __init__(
        self,
        store: UserStore,
        passwords: Passwords,
        settings: AuthSettings,
        publish_revocation: PublishRevocation,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._settings = settings
        self._publish_revocation = publish_revocation

    async def create_user(self, request: CreateUser) -> UserReply | RpcError:
        password_hash = await self._passwords.hash(request.password)
        try:
            user = await self._store.create_user(request.email.strip(), password_hash, request.role)
        except EmailTaken:
            return RpcError(code="email_taken", message="a user with that email already exists")
        log.info("user created", user_id=user.id, role=user.role)
        return UserReply(user=user)

    async def list_users(self, request: ListUsers) -> UserList:
        if not request.is_filtered:
            return UserList(users=await self._store.list_users())
        after = parse_id(request.after_id) if request.after_id else None
        if request.after_id and after is None:
            return UserList(users=[])
        ids = [user_id for user_id in map(parse_id, request.ids) if user_id is not None]
        if request.ids and not ids:
            return UserList(users=[])  # none of them can be a user
        users = await self._store.matching_users(
            ids=ids or None,
            roles=list(request.roles) or None,
            enabled_only=request.enabled_only,
            after=after,
            limit=request.limit,
        )
        full = request.limit is not None and len(users) == request.limit
        return UserList(users=users, next_after_id=users[-1].id if full else None)

    async def update_user(self, request: UpdateUser) -> UserReply | RpcError:
        user_id = parse_id(request.user_id)
        updated = None
        if user_id is not None:
            updated = await self._store.update_user(
                user_id, role=request.role, disabled=request.disabled
            )
        if user_id is None or updated is None:
            return not_found("user")
        user, version = updated
        if version is not None:  # something changed: tokens carrying the old state end
            await self.revoke_user_tokens(user_id, version)
        log.info(
            "user updated",
            user_id=user.id,
            role=user.role,
            disabled=user.disabled,
            changed=version is not None,
        )
        return UserReply(user=user)

    async def reset_password(self, request: ResetPassword) -> UserReply | RpcError:
        user_id = parse_id(request.user_id)
        updated = None
        if user_id is not None:
            password_hash = await self._passwords.hash(request.password)
            updated = await self._store.set_password(user_id, password_hash)
        if user_id is None or updated is None:
            return not_found("user")
        user, version = updated
        await self.revoke_user_tokens(user_id, version)
        log.info("password reset", user_id=user.id)
        return UserReply(user=user)

    async def revoke_user_tokens(self, user_id: uuid.UUID, min_version: int) -> None:
        """Tell the verifiers that the user's access tokens below ``min_version`` end now."""
        await self._publish_revocation(
            Revocation(
                user_id=str(user_id),
                min_version=min_version,
                until=int(time.time()) + self._settings.access_token_ttl_s + 1,
            )
        )
