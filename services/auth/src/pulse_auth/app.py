"""The auth service: answers ``rpc.auth.*``, publishes verification keys and revocations."""

from __future__ import annotations

import asyncpg
import msgspec
import structlog
from faststream.nats import NatsRouter
from nats.aio.msg import Msg
from pulse_contracts import Codec, RpcError, decode_untrusted, subjects
from pulse_contracts.accounts import AUTH_VERBS, AuthReply, AuthRequest, Revocation
from pulse_runtime.access_tokens import SigningKey
from pulse_runtime.database import (
    answered,
    create_pool_when_reachable,
    pool_is_ready,
)
from pulse_runtime.health import HealthListener
from pulse_runtime.logging import get_logger
from pulse_runtime.messaging import (
    RawMessage,
    create_broker,
    is_connected,
    skip_decoding,
    start_broker,
)
from pulse_runtime.service import Lifecycle
from pulse_runtime.telemetry import counter, new_registry
from pulse_runtime.tracing import TRACEPARENT, trace_id_of

from .authority import Authority
from .passwords import Passwords
from .schema import migrate
from .settings import Settings
from .store import AccountStore, FirstAdmin

log = get_logger(__name__)


async def load_signing_keys(store: AccountStore) -> list[SigningKey]:
    """The keys to publish, newest last (it signs); one is created on first start."""
    stored = await store.signing_keys()
    if not stored:
        key = SigningKey.generate()
        await store.add_signing_key(key.kid, key.private_pem().decode())
        stored = await store.signing_keys()  # another replica may have raced us: use the DB's
    return [SigningKey.from_pem(kid, pem.encode()) for kid, pem, _ in stored]


async def ensure_first_admin(store: AccountStore, passwords: Passwords, settings: Settings) -> None:
    """Create ``PULSE_ADMIN_EMAIL`` as the first admin when there is no admin at all.

    Never changes an existing user: when the email belongs to someone who is not an admin,
    auth starts without an admin and says so (promoting them silently would hand admin
    rights to whoever registered that email)."""
    admin = settings.admin
    if not admin.email or not admin.password or await store.has_admin():
        return
    outcome = await store.create_first_admin(admin.email, await passwords.hash(admin.password))
    match outcome:
        case FirstAdmin.CREATED:
            log.info("first admin created", email=admin.email)
        case FirstAdmin.ADMIN_EXISTS:
            log.info("first admin already created by another auth replica")
        case FirstAdmin.EMAIL_TAKEN:
            log.warning(
                "PULSE_ADMIN_EMAIL belongs to a user who is not an admin: no admin created;"
                " choose another email, or create an admin with `pulse users create --role admin`",
                email=admin.email,
            )


async def decide(authority: Authority, request: AuthRequest) -> AuthReply:
    """The authority's reply to a decoded request, or a typed error: every request gets one."""
    return await answered(lambda: authority.handle(request), failed="the auth service failed")


class AuthService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.codec = Codec()
        self.registry = new_registry()
        self.broker = create_broker(settings.common, "auth", self.registry)
        self.health = HealthListener(
            host=settings.auth.host,
            port=settings.auth.port,
            readiness=self.readiness,
            registry=self.registry,
        )
        self.passwords = Passwords(settings.auth.hash_workers)
        self.pool: asyncpg.Pool | None = None
        self.authority: Authority | None = None
        self._requests = counter(
            self.registry, "pulse_auth_requests_total", "rpc.auth requests", ("verb", "outcome")
        )
        self.broker.include_router(self._router())

    def _router(self) -> NatsRouter:
        """One subscription per verb, each answering up to ``rpc_workers`` requests at once.

        A subscription's messages wait for one another, so a burst of logins (each ~270 ms of
        Argon2) on a shared one would hold up every key check and refresh behind it; on its
        own subscription it only waits for itself.
        """
        router = NatsRouter()

        async def answer(message: RawMessage) -> None:
            await self.answer(message.raw_message)

        for verb in AUTH_VERBS.values():
            router.subscriber(
                subjects.auth_rpc(verb),
                queue=subjects.AUTH_QUEUE,
                decoder=skip_decoding,
                no_reply=True,
                max_workers=self.settings.auth.rpc_workers,
                title=f"rpc.auth.{verb}",
            )(answer)
        return router

    async def answer(self, msg: Msg) -> None:
        verb = msg.subject.removeprefix(f"{subjects.RPC_AUTH}.")
        structlog.contextvars.bind_contextvars(
            trace_id=trace_id_of((msg.headers or {}).get(TRACEPARENT)), verb=verb
        )
        try:
            reply = await self._reply_for(verb, msg.data)
        finally:
            structlog.contextvars.unbind_contextvars("trace_id", "verb")
        outcome = reply.code if isinstance(reply, RpcError) else "ok"
        self._requests.labels(verb=verb, outcome=outcome).inc()
        if msg.reply:
            await msg.respond(self.codec.pack(reply))

    async def _reply_for(self, verb: str, data: bytes) -> object:
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

    async def readiness(self) -> dict[str, bool]:
        return {"nats": is_connected(self.broker), "database": await pool_is_ready(self.pool)}

    async def start(self, lifecycle: Lifecycle) -> bool:
        await self.health.start()
        self.pool = await create_pool_when_reachable(
            self.settings.database.url, lifecycle.stopping, max_size=self.settings.auth.pool_size
        )
        if self.pool is None:
            return False
        async with self.pool.acquire() as conn:
            await migrate(conn)
        await self.passwords.prepare()  # before the first request: see Passwords.prepare
        store = AccountStore(self.pool)
        await ensure_first_admin(store, self.passwords, self.settings)
        keys = await load_signing_keys(store)
        self.authority = Authority(
            store, self.passwords, keys, self.settings.auth, self.publish_revocation
        )
        if not await start_broker(self.broker, lifecycle.stopping):
            return False
        # Verifiers that started before us learn the keys now; later ones ask rpc.auth.keys.
        await self.broker.publish(self.codec.pack(self.authority.public_keys()), subjects.AUTH_KEYS)
        self.health.mark_started()
        return True

    async def stop(self) -> None:
        await self.broker.stop()
        if self.pool is not None:
            await self.pool.close()
        self.passwords.close()
        await self.health.stop()
