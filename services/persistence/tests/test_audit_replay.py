"""Replaying dead letters on a real nats-server and database: a letter set aside by persistence
goes back to its stream once, in the replaying admin's trace, even with two replays at once; one
from ingest goes back to ingest as a request; a letter that could not be sent (nobody
answering, the store away, an origin that is not replayed) is put back to pending and
reported skipped, its failed step in the replay's task."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from pulse_contracts import subjects
from pulse_contracts.audit import DeadLettersChanged, ReplayDeadLetters, TaskStep
from pulse_dev.embedded import EmbeddedNats
from pulse_persistence.audit.replay import TASK_NAME, DeadLetterReplays, NatsResend
from pulse_persistence.schema import migrate, prepare_connection
from pulse_runtime.audit import RecordList, TaskLog
from pulse_runtime.database import create_pool
from pulse_runtime.settings import CommonSettings
from pulse_runtime.streams import ensure_streams, pulse_streams

from tests.support.audit_rows import insert_letter

pytestmark = pytest.mark.integration

ADMIN_TRACE = "d" * 32
ORIGINAL_TRACE = "e" * 32
HEADERS = {
    "Content-Type": "application/msgpack",
    "Nats-Msg-Id": "the-original-id",
    "traceparent": f"00-{ORIGINAL_TRACE}-{'1' * 16}-01",
}


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=4, init=prepare_connection)
    async with pool.acquire() as conn:
        await migrate(conn)
    yield pool
    await pool.close()


@pytest.fixture
async def nc(nats_server: EmbeddedNats) -> AsyncIterator[Client]:
    client = await nats.connect(nats_server.url)
    await ensure_streams(client.jetstream(), pulse_streams(CommonSettings()))
    yield client
    await client.drain()


async def status_of(pool: asyncpg.Pool, letter: int) -> tuple[str, int, str | None]:
    row = await pool.fetchrow(
        "SELECT status, replays, replayed_by FROM audit_dead_letters WHERE id = $1", letter
    )
    assert row is not None
    return row["status"], row["replays"], row["replayed_by"]


async def test_a_letter_goes_back_to_its_stream_once_even_with_two_replays_at_once(
    pool: asyncpg.Pool, nc: Client
) -> None:
    async with pool.acquire() as conn:
        letter = await insert_letter(
            conn, second=0, origin="metrics.host.cpu", data=b"\x93\x01\x02", headers=HEADERS
        )
    records = RecordList()
    replays = DeadLetterReplays(
        pool, NatsResend(lambda: nc, timeout_s=5), TaskLog(records, service="persistence")
    )
    answers = await asyncio.gather(
        replays.replay(ReplayDeadLetters(ids=[letter], by="ada", trace_id=ADMIN_TRACE)),
        replays.replay(ReplayDeadLetters(ids=[letter], by="bob", trace_id=ADMIN_TRACE)),
    )
    assert sorted(answer.changed for answer in answers) == [[], [letter]]
    assert sorted(answer.skipped for answer in answers) == [[], [letter]]
    info = await nc.jetstream().stream_info(subjects.METRICS_STREAM)
    assert info.state.messages == 1
    stored = await nc.jetstream().get_last_msg(subjects.METRICS_STREAM, "metrics.host.cpu")
    assert stored.data == b"\x93\x01\x02"
    assert stored.headers is not None
    assert stored.headers["Content-Type"] == "application/msgpack"
    assert stored.headers["Pulse-Replay-Of"] == str(letter)
    assert stored.headers["Nats-Msg-Id"] == f"deadletter-{letter}"  # not the original's
    assert stored.headers["traceparent"].split("-")[1] == ADMIN_TRACE
    winner = "ada" if answers[0].changed else "bob"
    assert await status_of(pool, letter) == ("replayed", 1, winner)
    # Once replayed, never again.
    again = await replays.replay(ReplayDeadLetters(ids=[letter], by="ada"))
    assert again == DeadLettersChanged(changed=[], skipped=[letter])
    assert (await nc.jetstream().stream_info(subjects.METRICS_STREAM)).state.messages == 1
    # The replay is a task in the admin's trace, a step per letter sent.
    steps = [r for r in records if isinstance(r, TaskStep) and r.trace_id == ADMIN_TRACE]
    assert {(s.step_name, s.status) for s in steps} >= {
        (TASK_NAME, "START"),
        (f"replay {letter}", "SUCCESS"),
        (TASK_NAME, "SUCCESS"),
    }


async def test_a_letter_from_ingest_is_asked_of_ingest_again(
    pool: asyncpg.Pool, nc: Client
) -> None:
    answers = iter([b'{"accepted":1}', b'{"error":"JetStream away","retryable":true}'])
    seen: list[Msg] = []

    async def ingest(msg: Msg) -> None:
        seen.append(msg)
        await msg.respond(next(answers))

    await nc.subscribe(subjects.INGEST_METRICS, cb=ingest)
    await nc.flush()
    async with pool.acquire() as conn:
        accepted = await insert_letter(
            conn, second=0, origin="ingest.metrics", data=b'{"name":"cpu"}', headers=HEADERS
        )
        retryable = await insert_letter(
            conn, second=1, origin="ingest.metrics", data=b'{"name":"mem"}'
        )
    records = RecordList()
    replays = DeadLetterReplays(
        pool, NatsResend(lambda: nc, timeout_s=5), TaskLog(records, service="persistence")
    )
    answer = await replays.replay(
        ReplayDeadLetters(ids=[retryable, accepted], by="ada", trace_id=ADMIN_TRACE)
    )
    assert answer == DeadLettersChanged(changed=[accepted], skipped=[retryable])
    assert [msg.data for msg in seen] == [b'{"name":"cpu"}', b'{"name":"mem"}']  # oldest first
    assert seen[0].headers is not None
    assert "Nats-Msg-Id" not in seen[0].headers
    assert seen[0].headers["traceparent"].split("-")[1] == ADMIN_TRACE
    assert await status_of(pool, accepted) == ("replayed", 1, "ada")
    assert await status_of(pool, retryable) == ("pending", 0, None)
    failed = [r for r in records if isinstance(r, TaskStep) and r.status == "FAILED"]
    assert [s.step_name for s in failed] == [f"replay {retryable}"]
    assert failed[0].error_message is not None
    assert "JetStream away" in failed[0].error_message


async def test_a_letter_that_cannot_be_sent_stays_pending(pool: asyncpg.Pool, nc: Client) -> None:
    async with pool.acquire() as conn:
        nobody = await insert_letter(conn, second=0, origin="ingest.events", data=b"[]")
        records = await insert_letter(conn, second=1, origin="logs.access.gateway", data=b"x")
    replays = DeadLetterReplays(
        pool, NatsResend(lambda: nc, timeout_s=1), TaskLog(RecordList(), service="persistence")
    )
    answer = await replays.replay(ReplayDeadLetters(ids=[nobody, records], by="ada"))
    assert answer == DeadLettersChanged(changed=[], skipped=[nobody, records])
    assert await status_of(pool, nobody) == ("pending", 0, None)
    assert await status_of(pool, records) == ("pending", 0, None)
