"""What auth decides about sessions: logging in (through the login throttle), refreshing a
token pair, logging out, and which access tokens are revoked before they expire."""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime, timedelta

import msgspec
from pulse_contracts import RpcError
from pulse_contracts.accounts import (
    Done,
    LoginRequest,
    LogoutRequest,
    RefreshRequest,
    Revocation,
    Revocations,
    TokenPair,
    User,
)
from pulse_runtime.access_tokens import AccessClaims, SigningKey, issue_access_token
from pulse_runtime.logging import get_logger

from pulse_auth.ids import not_found, parse_id
from pulse_auth.login_throttle import LoginThrottle
from pulse_auth.opaque import digest, new_refresh_token, seal, unseal
from pulse_auth.passwords import Passwords
from pulse_auth.settings import AuthSettings
from pulse_auth.users import PublishRevocation, Users, UserStore, UserWithSecret

from .store import RefreshOutcome, SessionStore, Successor

log = get_logger(__name__)

_INVALID_CREDENTIALS = RpcError(code="invalid_credentials", message="wrong email or password")
_PAIR_ENCODER = msgspec.msgpack.Encoder()
_PAIR_DECODER = msgspec.msgpack.Decoder(TokenPair)
_INVALID_REFRESH = RpcError(
    code="invalid_refresh_token", message="the refresh token is not valid; log in again"
)


class Sessions:
    def __init__(
        self,
        store: SessionStore,
        *,
        user_store: UserStore,
        users: Users,
        throttle: LoginThrottle,
        passwords: Passwords,
        signing_keys: list[SigningKey],
        settings: AuthSettings,
        publish_revocation: PublishRevocation,
    ) -> None:
        self._store = store
        self._user_store = user_store
        self._users = users
        self._throttle = throttle
        self._passwords = passwords
        self._keys = signing_keys
        self._settings = settings
        self._publish_revocation = publish_revocation

    async def login(self, request: LoginRequest) -> TokenPair | RpcError:
        wait, attempt = await self._throttle.begin(request.email, request.client_ip)
        if attempt is None:
            return RpcError(
                code="too_many_attempts",
                message=f"too many failed logins; try again in {wait} s",
                retry_after_s=wait,
            )
        found = await self._user_store.user_by_email(request.email.strip())
        # The same work, answer and timing for an unknown email, a wrong password and a
        # disabled account: nothing tells an attacker which emails exist.
        matches = await self._passwords.verify(
            found.password_hash if found else None, request.password
        )
        if found is None or not matches or found.user.disabled:
            return _INVALID_CREDENTIALS  # the attempt stays recorded as a failure
        await self._throttle.succeeded(attempt)
        if self._passwords.needs_rehash(found.password_hash):
            user_id = uuid.UUID(found.user.id)
            await self._user_store.rehash_password(
                user_id, await self._passwords.hash(request.password)
            )
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
            version = await self._user_store.bump_token_version(user_id)
            await self._users.revoke_user_tokens(user_id, version)
            return RpcError(
                code="refresh_token_reused",
                message="this refresh token was already used; the session is revoked",
            )
        return _INVALID_REFRESH

    async def logout(self, request: LogoutRequest) -> Done | RpcError:
        user_id = parse_id(request.user_id)
        if user_id is None:
            return not_found("user")
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
            for user_id, version, revoked_at in await self._user_store.recent_user_revocations(
                since
            )
        ]
        tokens = [
            Revocation(jti=jti, until=math.ceil(until.timestamp()))
            for jti, until in await self._store.revoked_tokens()
        ]
        return Revocations(revocations=users + tokens)

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
