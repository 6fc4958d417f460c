"""Who is asking: access tokens verified locally, with auth's keys and revocations.

The gateway never asks auth to check a token: it holds auth's public keys (``rpc.auth.keys``,
then ``auth.keys``) and its revocations (``rpc.auth.revocations``, then ``auth.revocations``).
A login is the only time a request needs auth.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pulse_contracts import Codec, subjects
from pulse_contracts.accounts import (
    KeysRequest,
    PublicKeys,
    Revocation,
    Revocations,
    RevocationsRequest,
)
from pulse_runtime.access_tokens import AccessClaims, InvalidToken, TokenVerifier
from pulse_runtime.auth_client import AuthClient, AuthRefused, AuthUnavailable
from pulse_runtime.logging import get_logger

log = get_logger(__name__)

_KEY_REFRESH_MIN_INTERVAL_S = 5.0
_RESYNC_INTERVAL_S = 30.0


class Unauthenticated(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class KeyRing:
    """Auth's verification keys and revocations, kept current over NATS."""

    def __init__(self, nats: Client, codec: Codec, auth: AuthClient) -> None:
        self._nats = nats
        self._codec = codec
        self._auth = auth
        self.verifier = TokenVerifier()
        self._min_versions: dict[str, tuple[int, int]] = {}  # user -> (min version, until)
        self._revoked: dict[str, int] = {}  # jti -> until
        self._last_sync = 0.0
        self._subscriptions: list[Subscription] = []
        self._resync: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._subscriptions = [
            await self._nats.subscribe(subjects.AUTH_KEYS, cb=self._on_keys),
            await self._nats.subscribe(subjects.AUTH_REVOCATIONS, cb=self._on_revocation),
        ]
        await self.sync()
        self._resync = asyncio.create_task(self._resync_forever())

    async def stop(self) -> None:
        if self._resync is not None:
            self._resync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resync
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    def has_keys(self) -> bool:
        return bool(self.verifier.kids())

    async def sync(self) -> None:
        """Fetch keys and revocations; a revocation missed while disconnected is caught here."""
        self._last_sync = time.monotonic()
        try:
            keys = await self._auth.call(KeysRequest(), PublicKeys)
            revocations = await self._auth.call(RevocationsRequest(), Revocations)
        except (AuthUnavailable, AuthRefused) as exc:
            log.warning("auth keys not available yet", error=str(exc))
            return
        self.verifier.set_keys(keys.keys)
        for revocation in revocations.revocations:
            self._apply(revocation)

    async def verify(self, token: str) -> AccessClaims:
        try:
            claims = self.verifier.verify(token)
        except InvalidToken as exc:
            if exc.code != "unknown_kid" or not self._may_sync():
                raise Unauthenticated(exc.code, str(exc)) from None
            await self.sync()  # a key auth created since we last asked
            try:
                claims = self.verifier.verify(token)
            except InvalidToken as again:
                raise Unauthenticated(again.code, str(again)) from None
        if self.is_revoked(claims):
            raise Unauthenticated("revoked", "this token was revoked; log in again")
        return claims

    def is_revoked(self, claims: AccessClaims) -> bool:
        now = int(time.time())
        if self._revoked.get(claims.jti, 0) > now:
            return True
        minimum = self._min_versions.get(claims.sub)
        return minimum is not None and minimum[1] > now and claims.ver < minimum[0]

    def _may_sync(self) -> bool:
        return time.monotonic() - self._last_sync >= _KEY_REFRESH_MIN_INTERVAL_S

    async def _resync_forever(self) -> None:
        while True:
            await asyncio.sleep(_RESYNC_INTERVAL_S)
            await self.sync()
            self._forget_expired()

    async def _on_keys(self, msg: Msg) -> None:
        try:
            keys = msgspec.msgpack.decode(msg.data, type=PublicKeys)
        except msgspec.DecodeError:
            return
        self.verifier.set_keys(keys.keys)

    async def _on_revocation(self, msg: Msg) -> None:
        try:
            self._apply(msgspec.msgpack.decode(msg.data, type=Revocation))
        except msgspec.DecodeError:
            return

    def _apply(self, revocation: Revocation) -> None:
        if revocation.jti:
            self._revoked[revocation.jti] = revocation.until
        if revocation.user_id is not None and revocation.min_version is not None:
            current = self._min_versions.get(revocation.user_id)
            if current is None or revocation.min_version >= current[0]:
                self._min_versions[revocation.user_id] = (revocation.min_version, revocation.until)

    def _forget_expired(self) -> None:
        now = int(time.time())
        self._revoked = {jti: until for jti, until in self._revoked.items() if until > now}
        self._min_versions = {u: v for u, v in self._min_versions.items() if v[1] > now}


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
