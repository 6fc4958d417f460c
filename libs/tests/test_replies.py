"""Answers larger than one NATS message: sent in parts, joined whole, losses detected (ADR 12).

Against a real nats-server with a small max_payload; the answerers here are plain NATS
subscribers, some of them misbehaving on purpose (a lost part, parts out of order).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from pulse_contracts.reply_parts import PART_HEADER, parse_part_header
from pulse_dev.embedded import EmbeddedNats
from pulse_runtime.replies import IncompleteReply, ReplyTooLarge, ask, send_reply

pytestmark = pytest.mark.integration

MAX_PAYLOAD = 8 * 1024
SUBJECT = "rpc.test"


@pytest.fixture
async def nc(tmp_path: Path) -> AsyncIterator[Client]:
    with EmbeddedNats(tmp_path / "nats", max_payload=MAX_PAYLOAD) as server:
        client = await nats.connect(server.url, max_reconnect_attempts=0)
        try:
            yield client
        finally:
            await client.close()


async def answering(nc: Client, answer: Callable[[Msg], Awaitable[None]]) -> None:
    await nc.subscribe(SUBJECT, queue="answerers", cb=answer)
    await nc.flush()


async def test_an_answer_that_fits_goes_as_one_plain_message(nc: Client) -> None:
    sent: list[int] = []

    async def answer(msg: Msg) -> None:
        sent.append(await send_reply(nc, msg.reply, b"small", part_bytes=MAX_PAYLOAD))

    await answering(nc, answer)
    # A plain request (an asker from before parts) reads it too.
    assert (await nc.request(SUBJECT, b"", timeout=2)).data == b"small"
    assert await ask(nc, SUBJECT, b"", timeout_s=2) == b"small"
    assert sent == [0, 0]


@pytest.mark.parametrize("size", [MAX_PAYLOAD + 1, 10 * MAX_PAYLOAD, 300_000])
async def test_a_large_answer_comes_back_whole_in_parts_within_max_payload(
    nc: Client, size: int
) -> None:
    data = secrets.token_bytes(size)
    seen: list[Msg] = []  # what went over the wire, watched on the side
    last_seen = asyncio.Event()

    async def watch(msg: Msg) -> None:
        seen.append(msg)
        number, count = parse_part_header(msg.headers[PART_HEADER] if msg.headers else "")
        if number == count:
            last_seen.set()

    await nc.subscribe("_INBOX.>", cb=watch)

    async def answer(msg: Msg) -> None:
        await send_reply(nc, msg.reply, data, part_bytes=MAX_PAYLOAD)

    await answering(nc, answer)
    assert await ask(nc, SUBJECT, b"", timeout_s=2) == data
    await asyncio.wait_for(last_seen.wait(), 2)
    parts = [parse_part_header(m.headers[PART_HEADER] if m.headers else "") for m in seen]
    assert parts == [(n, len(parts)) for n in range(1, len(parts) + 1)]
    assert len(parts) >= 2
    assert all(len(m.data) <= MAX_PAYLOAD for m in seen)


async def test_parts_are_never_larger_than_the_asker_offers(nc: Client) -> None:
    data = secrets.token_bytes(20_000)

    async def answer(msg: Msg) -> None:
        assert await send_reply(nc, msg.reply, data, part_bytes=2048) == 11  # 2048 - 256 each

    await answering(nc, answer)
    assert await ask(nc, SUBJECT, b"", timeout_s=2) == data


@pytest.mark.parametrize("part_bytes", [0, 1023])
async def test_an_asker_that_takes_no_parts_gets_nothing_sent(nc: Client, part_bytes: int) -> None:
    refused: list[ReplyTooLarge] = []

    async def answer(msg: Msg) -> None:
        try:
            await send_reply(nc, msg.reply, bytes(MAX_PAYLOAD + 1), part_bytes=part_bytes)
        except ReplyTooLarge as exc:
            refused.append(exc)
            await send_reply(nc, msg.reply, b"error: too large", part_bytes=0)

    await answering(nc, answer)
    assert await ask(nc, SUBJECT, b"", timeout_s=2) == b"error: too large"
    assert [(e.size, e.limit) for e in refused] == [(MAX_PAYLOAD + 1, MAX_PAYLOAD)]


async def test_an_answerer_that_gives_up_midway_sends_a_whole_reply_instead(nc: Client) -> None:
    async def answer(msg: Msg) -> None:
        await nc.publish(msg.reply, b"part one", headers={PART_HEADER: "1/3"})
        await nc.publish(msg.reply, b"error: the answer could not be sent")

    await answering(nc, answer)
    assert await ask(nc, SUBJECT, b"", timeout_s=2) == b"error: the answer could not be sent"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (["1/3", "3/3"], "part 3 of 3 came for 2 of 3"),
        (["2/3", "3/3"], "the answer began with part 2 of 3"),
        (["1/3", "2/4"], "part 2 of 4 came for 2 of 3"),
        (["1/2", "two"], "Pulse-Part 'two' is not <n>/<count>"),
        (["0/2"], "Pulse-Part '0/2': part out of range"),
    ],
)
async def test_lost_or_misordered_parts_are_detected(
    nc: Client, headers: list[str], reason: str
) -> None:
    async def answer(msg: Msg) -> None:
        for header in headers:
            await nc.publish(msg.reply, b"piece", headers={PART_HEADER: header})

    await answering(nc, answer)
    with pytest.raises(IncompleteReply) as refused:
        await ask(nc, SUBJECT, b"", timeout_s=2)
    assert str(refused.value) == reason


async def test_a_last_part_that_never_comes_ends_the_wait_after_the_timeout(nc: Client) -> None:
    async def answer(msg: Msg) -> None:
        await nc.publish(msg.reply, b"piece", headers={PART_HEADER: "1/2"})

    await answering(nc, answer)
    with pytest.raises(IncompleteReply, match=r"^part 2 of 2 did not arrive within 0.5 s$"):
        await asyncio.wait_for(ask(nc, SUBJECT, b"", timeout_s=0.5), 5)


async def test_no_answerer_and_a_silent_answerer_are_told_apart(nc: Client) -> None:
    with pytest.raises(nats.errors.NoRespondersError):
        await ask(nc, SUBJECT, b"", timeout_s=2)

    async def silent(msg: Msg) -> None:
        return None

    await answering(nc, silent)
    with pytest.raises(nats.errors.TimeoutError):
        await ask(nc, SUBJECT, b"", timeout_s=0.3)
