"""The auth service: answers ``rpc.auth.*``, publishes verification keys and revocations."""

from __future__ import annotations

import msgspec
from pulse_contracts import RpcError, decode_untrusted, subjects
from pulse_contracts.accounts import AUTH_VERBS, AuthReply, AuthRequest, Revocation
from pulse_runtime.database import answered
from pulse_runtime.logging import get_logger
from pulse_runtime.service import Lifecycle
from pulse_runtime.telemetry import counter
from pulse_runtime.verbs import VerbResponder
from pulse_runtime.worker import OwnedDatabase, Worker

from .authority import Authority
from .passwords import Passwords
from .schema import migrate
from .settings import Settings
from .signing_keys import SigningKeyStore, load_signing_keys
from .users import UserStore, ensure_first_admin

log = get_logger(__name__)


async def decide(authority: Authority, request: AuthRequest) -> AuthReply:
    """The authority's reply to a decoded request, or a typed error: every request gets one."""
    return await answered(lambda: authority.handle(request), failed="the auth service failed")


class AuthService(Worker):
    def __init__(self, settings: Settings) -> None:
        super().__init__(
            "auth",
            settings.common,
            settings.auth,
            database=OwnedDatabase(
                settings.database, pool_size=settings.auth.pool_size, migrate=migrate
            ),
            audit=settings.audit,
        )
        self.settings = settings
        self.passwords = Passwords(settings.auth.hash_workers)
        self.authority: Authority | None = None
        self.verbs = VerbResponder(
            subjects.RPC_AUTH,
            AUTH_VERBS.values(),
            queue=subjects.AUTH_QUEUE,
            workers=settings.auth.rpc_workers,
            reply_for=self._reply_for,
            pack=self.codec.pack,
            requests=counter(
                self.registry, "pulse_auth_requests_total", "rpc.auth requests", ("verb", "outcome")
            ),
        )
        self.broker.include_router(self.verbs.router())

    async def _reply_for(self, verb: str, data: bytes, _traceparent: str | None) -> object:
        assert self.authority is not None
        try:
            request = decode_untrusted(self.codec.auth_request, data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return RpcError(code="bad_request", message=str(exc))
        if AUTH_VERBS[type(request)] != verb:
            return RpcError(code="bad_request", message=f"rpc.auth.{verb} does not take that")
        return await decide(self.authority, request)

    async def publish_revocation(self, revocation: Revocation) -> None:
        await self.broker.publish(self.codec.pack(revocation), subjects.AUTH_REVOCATIONS)

    async def prepare(self, lifecycle: Lifecycle) -> bool:
        assert self.database is not None
        pool = self.database.pool
        await self.passwords.prepare()  # before the first request: see Passwords.prepare
        await ensure_first_admin(UserStore(pool), self.passwords, self.settings.admin)
        keys = await load_signing_keys(SigningKeyStore(pool))
        self.authority = Authority(
            pool, self.passwords, keys, self.settings.auth, self.publish_revocation
        )
        return True

    async def start_work(self, lifecycle: Lifecycle) -> bool:
        assert self.authority is not None
        # Verifiers that started before us learn the keys now; later ones ask rpc.auth.keys.
        await self.broker.publish(self.codec.pack(self.authority.public_keys()), subjects.AUTH_KEYS)
        return True

    async def release(self) -> None:
        self.passwords.close()
