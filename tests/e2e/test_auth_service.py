"""The auth service under concurrency, and its start: real auth processes on a real
nats-server and PostgreSQL, spoken to over NATS as the gateway and ingest do."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import httpx
import nats
import nats.errors
import pytest
from argon2 import PasswordHasher
from nats.aio.client import Client
from pulse_auth.app import AuthService
from pulse_auth.schema import migrate
from pulse_auth.settings import Settings
from pulse_auth.users import FirstAdmin, UserStore
from pulse_contracts import Codec, RpcError, subjects
from pulse_contracts.accounts import (
    AUTH_VERBS,
    ApiKeyCreated,
    ApiKeyIdentity,
    ApiKeyList,
    AuthRequest,
    CreateApiKey,
    CreateUser,
    KeysRequest,
    ListApiKeys,
    ListUsers,
    LoginRequest,
    PublicKeys,
    RefreshRequest,
    Role,
    TokenPair,
    UserList,
    UserReply,
    VerifyApiKey,
)
from pulse_dev.embedded import EmbeddedNats, free_port
from pulse_runtime.service import Lifecycle

from tests.support.stack import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    PulseStack,
    ServiceProcess,
    bearer,
)

pytestmark = pytest.mark.integration

CODEC = Codec()
USER_EMAIL = "someone@pulse.test"
USER_PASSWORD = "a perfectly long password"
# Generous: the machine running the tests may be busy, and Argon2 is slow on purpose.
REPLY_TIMEOUT_S = 60.0
NO_RESPONDERS_GRACE_S = 2.0


async def ask(nc: Client, request: AuthRequest) -> Any:
    """A request to auth. "No responders" is retried for a moment: nats-server (2.15) may
    answer the PONG of a subscription slightly before other clients' messages reach it
    (docs/operations.md, "Delivery guarantees"), so a request right after auth reported ready
    can find nobody listening yet."""
    deadline = time.monotonic() + NO_RESPONDERS_GRACE_S
    while True:
        try:
            reply = await nc.request(
                subjects.auth_rpc(AUTH_VERBS[type(request)]),
                CODEC.pack(request),
                timeout=REPLY_TIMEOUT_S,
            )
        except nats.errors.NoRespondersError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
            continue
        return CODEC.auth_reply.decode(reply.data)


async def ask_all(nc: Client, requests: Sequence[AuthRequest]) -> list[Any]:
    """Send every request at once; the replies, in the order of the requests."""
    return await asyncio.gather(*(ask(nc, request) for request in requests))


@pytest.fixture
async def auth_only(make_stack: Any) -> AsyncIterator[tuple[PulseStack, Client]]:
    stack: PulseStack = make_stack()
    stack.start(["auth"])
    nc = await nats.connect(stack.nats_url)
    try:
        yield stack, nc
    finally:
        await nc.drain()


async def create_user(nc: Client, email: str = USER_EMAIL, role: Role = "user") -> str:
    reply = await ask(nc, CreateUser(email=email, password=USER_PASSWORD, role=role))
    assert isinstance(reply, UserReply), reply
    return reply.user.id


async def admins(nc: Client) -> list[str]:
    users = await ask(nc, ListUsers())
    assert isinstance(users, UserList)
    return [user.email for user in users.users if user.role == "admin"]


# --- requests are answered concurrently -------------------------------------------------


async def test_a_key_check_is_not_stuck_behind_logins_waiting_for_argon2(make_stack: Any) -> None:
    # One hashing thread: the logins take turns in it, each a full Argon2 hash (an unknown
    # email checks the decoy hash, which costs the same).
    stack: PulseStack = make_stack(PULSE_AUTH_HASH_WORKERS="1")
    stack.start(["auth"])
    nc = await nats.connect(stack.nats_url)
    try:
        created = await ask(nc, CreateApiKey(name="sensor-7", scopes=["ingest:metrics"]))
        assert isinstance(created, ApiKeyCreated)
        # warm both paths (database connections, first-use costs) before measuring
        assert isinstance(await ask(nc, VerifyApiKey(secret=created.secret)), ApiKeyIdentity)
        assert isinstance(
            await ask(nc, LoginRequest(email="warm@pulse.test", password="x")), RpcError
        )

        logins = 6
        inbox = nc.new_inbox()
        answers = await nc.subscribe(f"{inbox}.*")
        for i in range(logins):
            request = LoginRequest(email=f"nobody{i}@pulse.test", password="wrong guess")
            await nc.publish(
                subjects.auth_rpc("login"), CODEC.pack(request), reply=f"{inbox}.login{i}"
            )
        await nc.flush()  # the server has every login before the cheap requests are sent
        cheap: dict[str, AuthRequest] = {
            "verify": VerifyApiKey(secret=created.secret),
            "keys": KeysRequest(),
        }
        for name, cheap_request in cheap.items():
            subject = subjects.auth_rpc(AUTH_VERBS[type(cheap_request)])
            await nc.publish(subject, CODEC.pack(cheap_request), reply=f"{inbox}.{name}")
        order: list[str] = []
        replies: dict[str, Any] = {}
        for _ in range(logins + len(cheap)):
            message = await answers.next_msg(timeout=REPLY_TIMEOUT_S)
            name = message.subject.rsplit(".", 1)[1]
            order.append(name)
            replies[name] = CODEC.auth_reply.decode(message.data)
    finally:
        await nc.drain()
    assert isinstance(replies["verify"], ApiKeyIdentity)
    assert isinstance(replies["keys"], PublicKeys)
    assert all(
        isinstance(replies[f"login{i}"], RpcError)
        and replies[f"login{i}"].code == "invalid_credentials"
        for i in range(logins)
    )
    # Served one at a time, both would come after all six logins (1.6 s of hashing at the
    # least). Concurrent, they come before most of them: the hashes are queued in one thread.
    for name in cheap:
        answered_later = order[order.index(name) + 1 :]
        assert sum(n.startswith("login") for n in answered_later) >= logins - 2, order


# --- the login throttle holds under parallel guesses ------------------------------------


async def test_parallel_wrong_passwords_for_one_account_are_throttled_after_five(
    auth_only: tuple[PulseStack, Client],
) -> None:
    _, nc = auth_only
    await create_user(nc)
    guesses = [
        LoginRequest(email=USER_EMAIL, password=f"guess {i}", client_ip="203.0.113.7")
        for i in range(12)
    ]
    replies = await ask_all(nc, guesses)
    assert all(isinstance(reply, RpcError) for reply in replies), replies
    codes = Counter(reply.code for reply in replies)
    # Checked and recorded at once, so exactly five guesses reach the password check.
    assert codes == {"invalid_credentials": 5, "too_many_attempts": 7}
    assert all(reply.retry_after_s > 0 for reply in replies if reply.code == "too_many_attempts")
    right = await ask(nc, LoginRequest(email=USER_EMAIL, password=USER_PASSWORD))
    assert isinstance(right, RpcError)
    assert right.code == "too_many_attempts"  # locked means locked


async def test_parallel_wrong_passwords_from_one_address_are_throttled_per_address(
    make_stack: Any,
) -> None:
    stack: PulseStack = make_stack(PULSE_AUTH_LOGIN_FAILURE_LIMIT="2")  # 8 per address
    stack.start(["auth"])
    nc = await nats.connect(stack.nats_url)
    try:
        guesses = [
            LoginRequest(email=f"victim{i}@pulse.test", password="guess", client_ip="203.0.113.9")
            for i in range(12)
        ]
        replies = await ask_all(nc, guesses)
        elsewhere = await ask(
            nc, LoginRequest(email=ADMIN_EMAIL, password=ADMIN_PASSWORD, client_ip="198.51.100.1")
        )
    finally:
        await nc.drain()
    codes = Counter(reply.code for reply in replies)
    assert codes == {"invalid_credentials": 8, "too_many_attempts": 4}
    assert isinstance(elsewhere, TokenPair)  # another address is not affected


async def test_a_successful_login_is_not_counted_as_a_failure(make_stack: Any) -> None:
    stack: PulseStack = make_stack(PULSE_AUTH_LOGIN_FAILURE_LIMIT="1")  # 4 per address
    stack.start(["auth"])
    nc = await nats.connect(stack.nats_url)
    try:
        await create_user(nc)
        # More successes than either limit: each takes back the attempt it recorded, for the
        # account and for the address alike.
        successes = [
            await ask(nc, LoginRequest(email=USER_EMAIL, password=USER_PASSWORD, client_ip="::1"))
            for _ in range(6)
        ]
        wrong = [
            await ask(nc, LoginRequest(email=USER_EMAIL, password="nope", client_ip="::1"))
            for _ in range(2)
        ]
    finally:
        await nc.drain()
    assert all(isinstance(reply, TokenPair) for reply in successes), successes
    assert [reply.code for reply in wrong] == ["invalid_credentials", "too_many_attempts"]


# --- refreshes of one token at once ------------------------------------------------------


async def test_simultaneous_refreshes_of_one_token_share_one_successor(
    auth_only: tuple[PulseStack, Client],
) -> None:
    """Refreshes of one token in flight together (auth handles them concurrently) are one
    rotation: every one gets the same pair, and the chain does not fork."""
    stack, nc = auth_only
    user_id = await create_user(nc)
    logged_in = await ask(nc, LoginRequest(email=USER_EMAIL, password=USER_PASSWORD))
    assert isinstance(logged_in, TokenPair)
    replies = await ask_all(nc, [RefreshRequest(refresh_token=logged_in.refresh_token)] * 8)
    assert all(isinstance(reply, TokenPair) for reply in replies), replies
    assert len({(reply.refresh_token, reply.access_token) for reply in replies}) == 1
    conn = await asyncpg.connect(stack.database_url)
    try:
        rows = await conn.fetch(
            "SELECT parent_id, used_at, successor_sealed FROM auth.refresh_tokens"
            " WHERE user_id = $1 ORDER BY created_at",
            uuid.UUID(user_id),
        )
    finally:
        await conn.close()
    assert [(row["parent_id"] is None, row["used_at"] is None) for row in rows] == [
        (True, False),  # the login's token, spent once
        (False, True),  # its one successor, not yet used
    ]
    sealed = bytes(rows[0]["successor_sealed"])  # kept for the grace period, but unreadable
    assert replies[0].refresh_token.encode() not in sealed
    assert replies[0].access_token.encode() not in sealed


# --- the first admin --------------------------------------------------------------------


async def test_a_restart_with_another_admin_password_changes_no_admin(
    auth_only: tuple[PulseStack, Client],
) -> None:
    stack, nc = auth_only
    assert isinstance(
        await ask(nc, LoginRequest(email=ADMIN_EMAIL, password=ADMIN_PASSWORD)), TokenPair
    )
    assert stack["auth"].terminate() == 0
    stack.start(["auth"], env={"PULSE_ADMIN_PASSWORD": "another admin password"})
    old = await ask(nc, LoginRequest(email=ADMIN_EMAIL, password=ADMIN_PASSWORD))
    new = await ask(nc, LoginRequest(email=ADMIN_EMAIL, password="another admin password"))
    assert isinstance(old, TokenPair)
    assert isinstance(new, RpcError)
    assert new.code == "invalid_credentials"
    assert await admins(nc) == [ADMIN_EMAIL]


async def test_an_admin_email_that_belongs_to_a_user_is_not_promoted(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["auth"], env={"PULSE_ADMIN_EMAIL": ""})  # no first admin
    nc = await nats.connect(stack.nats_url)
    try:
        await create_user(nc, "ops@pulse.test")
        assert stack["auth"].terminate() == 0
        stack.start(["auth"], env={"PULSE_ADMIN_EMAIL": "ops@pulse.test"})  # starts: no crash
        assert await admins(nc) == []
        as_admin = await ask(nc, LoginRequest(email="ops@pulse.test", password=ADMIN_PASSWORD))
        as_user = await ask(nc, LoginRequest(email="ops@pulse.test", password=USER_PASSWORD))
    finally:
        await nc.drain()
    assert isinstance(as_admin, RpcError)
    assert isinstance(as_user, TokenPair)
    assert as_user.user.role == "user"
    assert "belongs to a user who is not an admin" in stack["auth"].output()


async def test_two_replicas_starting_together_create_one_admin(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.nats.start()
    env = stack.base_env()
    replicas = []
    for name in ("auth", "auth-2"):
        log_dir = stack.work_dir / name
        log_dir.mkdir(parents=True)
        replica = ServiceProcess("auth", {**env, "PULSE_AUTH_PORT": str(free_port())}, log_dir)
        stack.services[name] = replica  # stopped with the stack
        replicas.append(replica)
    for replica in replicas:
        replica.start()
    for replica in replicas:
        replica.wait_ready()  # neither crashed on the other's admin
    nc = await nats.connect(stack.nats_url)
    try:
        assert await admins(nc) == [ADMIN_EMAIL]
    finally:
        await nc.drain()


async def test_creating_the_first_admin_is_atomic(database_url: str) -> None:
    pool = await asyncpg.create_pool(database_url, min_size=2, max_size=4)
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        store = UserStore(pool)
        outcomes = await asyncio.gather(
            store.create_first_admin("one@pulse.test", "$argon2id$x"),
            store.create_first_admin("two@pulse.test", "$argon2id$x"),
        )
        assert sorted(outcome.value for outcome in outcomes) == ["admin_exists", "created"]
        assert [user.role for user in await store.list_users()] == ["admin"]
        async with pool.acquire() as conn:
            await conn.execute("DELETE FROM auth.users")
        await store.create_user("taken@pulse.test", "$argon2id$x", "user")
        assert await store.create_first_admin("Taken@pulse.test", "$argon2id$x") is (
            FirstAdmin.EMAIL_TAKEN
        )
        assert not await store.has_admin()
    finally:
        await pool.close()


# --- logout and API keys ----------------------------------------------------------------


async def test_logout_with_only_the_access_token_ends_the_session(make_stack: Any) -> None:
    stack: PulseStack = make_stack()
    stack.start(["auth", "gateway"])
    credentials = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    login_url = stack["gateway"].url("/api/v1/auth/login")
    refresh_url = stack["gateway"].url("/api/v1/auth/refresh")
    async with httpx.AsyncClient() as browser, httpx.AsyncClient() as other:
        ended = (await browser.post(login_url, json=credentials)).json()
        kept = (await other.post(login_url, json=credentials)).json()
        # a script: the bearer token and nothing else (no cookie, no body)
        async with httpx.AsyncClient() as script:
            out = await script.post(
                stack["gateway"].url("/api/v1/auth/logout"), headers=bearer(ended["access_token"])
            )
        assert out.status_code == 204
        async with httpx.AsyncClient() as script:
            refused = await script.post(refresh_url, json={"refresh_token": ended["refresh_token"]})
            other_session = await script.post(
                refresh_url, json={"refresh_token": kept["refresh_token"]}
            )
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "invalid_refresh_token"
    assert other_session.status_code == 200  # only that session ended


async def test_a_key_is_marked_used_only_with_its_secret(
    auth_only: tuple[PulseStack, Client],
) -> None:
    _, nc = auth_only
    created = await ask(nc, CreateApiKey(name="sensor-7", scopes=["ingest:metrics"]))
    assert isinstance(created, ApiKeyCreated)
    prefix = created.api_key.prefix
    forged = f"pk_{prefix}_{'A' * 43}"  # the public prefix, a made-up secret

    async def last_used() -> object:
        listed = await ask(nc, ListApiKeys())
        assert isinstance(listed, ApiKeyList)
        return next(key.last_used_at for key in listed.api_keys if key.prefix == prefix)

    refused = await ask(nc, VerifyApiKey(secret=forged))
    assert isinstance(refused, RpcError)
    assert refused.code == "invalid_api_key"
    assert await last_used() is None
    assert isinstance(await ask(nc, VerifyApiKey(secret=created.secret)), ApiKeyIdentity)
    assert await last_used() is not None


# --- the decoy hash -----------------------------------------------------------------------


async def test_the_decoy_hash_is_made_before_auth_is_ready(
    nats_server: EmbeddedNats, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashes: list[str] = []
    real_hash = PasswordHasher.hash

    def counting_hash(self: PasswordHasher, password: str | bytes, **kwargs: Any) -> str:
        hashes.append("hash")
        return real_hash(self, password, **kwargs)

    monkeypatch.setattr(PasswordHasher, "hash", counting_hash)
    settings = Settings.from_environ(
        {
            "PULSE_NATS_URL": nats_server.url,
            "PULSE_DATABASE_URL": database_url,
            "PULSE_AUTH_PORT": str(free_port()),
        }
    )
    service = AuthService(settings)  # in this process, to count its hashes
    assert await service.start(Lifecycle())
    nc = await nats.connect(nats_server.url)
    try:
        assert hashes == ["hash"]  # the decoy, and nothing else (no first admin configured)
        unknown = await ask(nc, LoginRequest(email="ghost@pulse.test", password="a guess"))
    finally:
        await nc.drain()
        await service.stop()
    assert isinstance(unknown, RpcError)
    assert unknown.code == "invalid_credentials"
    assert hashes == ["hash"]  # the first unknown email checked the decoy, made no new one
