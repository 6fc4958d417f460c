"""What auth decides: each ``rpc.auth.*`` request in, its reply out."""

from __future__ import annotations

import hmac
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import msgspec
from pulse_contracts import RpcError
from pulse_contracts.accounts import (
    ApiKeyCreated,
    ApiKeyIdentity,
    ApiKeyList,
    ApiKeyReply,
    AuthReply,
    AuthRequest,
    CreateApiKey,
    CreateUser,
    Done,
    KeysRequest,
    ListApiKeys,
    ListUsers,
    LoginRequest,
    LogoutRequest,
    PublicKeys,
    RefreshRequest,
    ResetPassword,
    Revocation,
    Revocations,
    RevocationsRequest,
    RevokeApiKey,
    TokenPair,
    UpdateUser,
    User,
    UserList,
    UserReply,
    VerifyApiKey,
)
from pulse_runtime.access_tokens import AccessClaims, SigningKey, issue_access_token
from pulse_runtime.logging import get_logger

from .opaque import api_key_prefix, digest, new_api_key, new_refresh_token, seal, unseal
from .passwords import Passwords
from .settings import AuthSettings
from .store import (
    AccountStore,
    EmailTaken,
    Failures,
    RefreshOutcome,
    Successor,
    UserWithSecret,
    parse_id,
)

log = get_logger(__name__)

PublishRevocation = Callable[[Revocation], Awaitable[None]]
_INVALID_CREDENTIALS = RpcError(code="invalid_credentials", message="wrong email or password")
_PAIR_ENCODER = msgspec.msgpack.Encoder()
_PAIR_DECODER = msgspec.msgpack.Decoder(TokenPair)
_INVALID_REFRESH = RpcError(
    code="invalid_refresh_token", message="the refresh token is not valid; log in again"
)


def _not_found(what: str) -> RpcError:
    return RpcError(code="not_found", message=f"no such {what}")


class Authority:
    def __init__(
        self,
        store: AccountStore,
        passwords: Passwords,
        signing_keys: list[SigningKey],
        settings: AuthSettings,
        publish_revocation: PublishRevocation,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._keys = signing_keys
        self._settings = settings
        self._publish_revocation = publish_revocation

    async def handle(self, request: AuthRequest) -> AuthReply:  # noqa: PLR0911, PLR0912
        match request:
            case LoginRequest():
                return await self.login(request)
            case RefreshRequest():
                return await self.refresh(request)
            case LogoutRequest():
                return await self.logout(request)
            case KeysRequest():
                return self.public_keys()
            case RevocationsRequest():
                return await self.revocations()
            case CreateUser():
                return await self.create_user(request)
            case ListUsers():
                return UserList(users=await self._store.list_users())
            case UpdateUser():
                return await self.update_user(request)
            case ResetPassword():
                return await self.reset_password(request)
            case CreateApiKey():
                return await self.create_api_key(request)
            case ListApiKeys():
                return ApiKeyList(api_keys=await self._store.list_api_keys())
            case RevokeApiKey():
                return await self.revoke_api_key(request)
            case VerifyApiKey():
                return await self.verify_api_key(request)

    # sessions

    async def login(self, request: LoginRequest) -> TokenPair | RpcError:
        account_key = f"email:{request.email.strip().lower()}"
        keys = [account_key]
        if request.client_ip:
            keys.append(f"ip:{request.client_ip}")
        # The attempt counts as a failure from here on, before the password is checked, so
        # parallel guesses cannot all slip through before any of them is recorded.
        wait, attempt = await self._store.begin_login(keys, self._window, self._wait_for)
        if attempt is None:
            return RpcError(
                code="too_many_attempts",
                message=f"too many failed logins; try again in {wait} s",
                retry_after_s=wait,
            )
        found = await self._store.user_by_email(request.email.strip())
        # The same work, answer and timing for an unknown email, a wrong password and a
        # disabled account: nothing tells an attacker which emails exist.
        matches = await self._passwords.verify(
            found.password_hash if found else None, request.password
        )
        if found is None or not matches or found.user.disabled:
            return _INVALID_CREDENTIALS  # the attempt stays recorded as a failure
        await self._store.login_succeeded(attempt, keys, account_key)
        if self._passwords.needs_rehash(found.password_hash):
            user_id = uuid.UUID(found.user.id)
            await self._store.rehash_password(user_id, await self._passwords.hash(request.password))
        refresh_token = new_refresh_token()
        jti = uuid.uuid4().hex
        await self._store.add_refresh_token(
            user_id=uuid.UUID(found.user.id),
            token_hash=digest(refresh_token),
            ttl=timedelta(seconds=self._settings.refresh_token_ttl_s),
            access_jti=jti,
        )
        log.info("login", user_id=found.user.id)
        return self._token_pair(found.user, found.token_version, refresh_token, jti)

    async def refresh(self, request: RefreshRequest) -> TokenPair | RpcError:
        spent = request.refresh_token
        grace = self._settings.refresh_grace_s
        answer: TokenPair | None = None

        def successor_for(found: UserWithSecret) -> Successor:
            nonlocal answer
            token, jti = new_refresh_token(), uuid.uuid4().hex
            answer = self._token_pair(found.user, found.token_version, token, jti)
            # Kept for a second refresh of ``spent`` within the grace period, which only the
            # holder of ``spent`` can open: it gets this very answer, not a chain of its own.
            sealed = seal(spent, _PAIR_ENCODER.encode(answer)) if grace > 0 else None
            return Successor(token_hash=digest(token), access_jti=jti, sealed=sealed)

        outcome, user_id, sealed = await self._store.rotate_refresh_token(
            digest(spent),
            timedelta(seconds=self._settings.refresh_token_ttl_s),
            timedelta(seconds=grace),
            successor_for,
        )
        if outcome is RefreshOutcome.ROTATED and answer is not None:
            return answer
        if outcome is RefreshOutcome.REPEATED and sealed is not None:
            opened = unseal(spent, sealed)
            if opened is not None:
                log.info("refresh token repeated within the grace period", user_id=str(user_id))
                return _PAIR_DECODER.decode(opened)
        if outcome is RefreshOutcome.REUSED and user_id is not None:
            # Someone replayed a spent token: the chain is revoked, and so are the access
            # tokens it produced (the other chains of this user keep working).
            log.warning("refresh token reused; chain revoked", user_id=str(user_id))
            await self._revoke_user_tokens(user_id, await self._store.bump_token_version(user_id))
            return RpcError(
                code="refresh_token_reused",
                message="this refresh token was already used; the session is revoked",
            )
        return _INVALID_REFRESH

    async def logout(self, request: LogoutRequest) -> Done | RpcError:
        user_id = parse_id(request.user_id)
        if user_id is None:
            return _not_found("user")
        if request.refresh_token:
            family = await self._store.family_of(digest(request.refresh_token), user_id)
            if family is not None:
                await self._store.revoke_family(family)
        if request.access_jti:
            # The session ends even when only the access token was sent (a script): the chain
            # it was issued with is revoked too. Tokens issued before auth recorded their
            # chain find none; for those only a sent refresh token ends the session.
            await self._store.revoke_family_of_access_token(request.access_jti, user_id)
            until = datetime.fromtimestamp(request.access_exp, UTC)
            await self._store.revoke_token(request.access_jti, user_id, until)
            await self._publish_revocation(
                Revocation(jti=request.access_jti, until=request.access_exp)
            )
        return Done()

    def public_keys(self) -> PublicKeys:
        return PublicKeys(
            keys=[key.public_jwk() for key in self._keys],
            access_token_ttl_s=self._settings.access_token_ttl_s,
        )

    async def revocations(self) -> Revocations:
        """Everything a verifier must know now: what was revoked and has not yet expired."""
        ttl = self._settings.access_token_ttl_s
        since = datetime.now(UTC) - timedelta(seconds=ttl)
        users = [
            Revocation(
                user_id=str(user_id),
                min_version=version,
                until=math.ceil(revoked_at.timestamp()) + ttl,
            )
            for user_id, version, revoked_at in await self._store.recent_user_revocations(since)
        ]
        tokens = [
            Revocation(jti=jti, until=math.ceil(until.timestamp()))
            for jti, until in await self._store.revoked_tokens()
        ]
        return Revocations(revocations=users + tokens)

    # administration

    async def create_user(self, request: CreateUser) -> UserReply | RpcError:
        password_hash = await self._passwords.hash(request.password)
        try:
            user = await self._store.create_user(request.email.strip(), password_hash, request.role)
        except EmailTaken:
            return RpcError(code="email_taken", message="a user with that email already exists")
        log.info("user created", user_id=user.id, role=user.role)
        return UserReply(user=user)

    async def update_user(self, request: UpdateUser) -> UserReply | RpcError:
        user_id = parse_id(request.user_id)
        updated = None
        if user_id is not None:
            updated = await self._store.update_user(
                user_id, role=request.role, disabled=request.disabled
            )
        if user_id is None or updated is None:
            return _not_found("user")
        user, version = updated
        if version is not None:  # something changed: tokens carrying the old state end
            await self._revoke_user_tokens(user_id, version)
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
            return _not_found("user")
        user, version = updated
        await self._revoke_user_tokens(user_id, version)
        log.info("password reset", user_id=user.id)
        return UserReply(user=user)

    async def create_api_key(self, request: CreateApiKey) -> ApiKeyCreated:
        prefix, secret = new_api_key()
        api_key = await self._store.create_api_key(
            name=request.name,
            prefix=prefix,
            secret_hash=digest(secret),
            scopes=sorted(set(request.scopes)),
            created_by=parse_id(request.created_by) if request.created_by else None,
        )
        log.info("api key created", api_key_id=api_key.id, prefix=prefix)
        return ApiKeyCreated(api_key=api_key, secret=secret)

    async def revoke_api_key(self, request: RevokeApiKey) -> ApiKeyReply | RpcError:
        key_id = parse_id(request.api_key_id)
        revoked = await self._store.revoke_api_key(key_id) if key_id else None
        if revoked is None:
            return _not_found("api key")
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
        return ApiKeyIdentity(api_key_id=api_key.id, name=api_key.name, scopes=api_key.scopes)

    # helpers

    @property
    def _window(self) -> timedelta:
        return timedelta(seconds=self._settings.login_failure_window_s)

    def _wait_for(self, failures: Failures) -> int:
        """Seconds until another attempt is allowed: 0, or a delay that doubles per failure."""
        wait = 0.0
        for key, (count, seconds_since_last) in failures.items():
            limit = self._settings.login_failure_limit * (4 if key.startswith("ip:") else 1)
            if count < limit:
                continue
            delay = min(
                self._settings.login_base_delay_s * 2 ** (count - limit),
                self._settings.login_max_delay_s,
            )
            wait = max(wait, delay - seconds_since_last)
        return math.ceil(wait) if wait > 0 else 0

    def _token_pair(self, user: User, version: int, refresh_token: str, jti: str) -> TokenPair:
        now = int(time.time())
        ttl = self._settings.access_token_ttl_s
        claims = AccessClaims(
            sub=user.id,
            email=user.email,
            role=user.role,
            iat=now,
            exp=now + ttl,
            jti=jti,
            ver=version,
        )
        return TokenPair(
            access_token=issue_access_token(claims, self._keys[-1]),
            refresh_token=refresh_token,
            expires_in=ttl,
            user=user,
            refresh_expires_in=self._settings.refresh_token_ttl_s,
        )

    async def _revoke_user_tokens(self, user_id: uuid.UUID, min_version: int) -> None:
        await self._publish_revocation(
            Revocation(
                user_id=str(user_id),
                min_version=min_version,
                until=int(time.time()) + self._settings.access_token_ttl_s + 1,
            )
        )
