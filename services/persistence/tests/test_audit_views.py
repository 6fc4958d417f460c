"""The admins' audit views against a real database with fixed rows: the access search (every
filter, newest first, keyset pages that never repeat or skip), task runs with their latest
status, a trace's story in time order (capped), and the dead-letter queue (list, show with its
bytes shown safely, discard once). The same on plain PostgreSQL and TimescaleDB
(``PULSE_TEST_DATABASE_URL``). Replays, which need NATS too: test_audit_replay.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import msgspec
import pytest
from pulse_contracts import RpcError
from pulse_contracts.audit import (
    MAX_TRACE_ITEMS,
    AccessPage,
    DeadLetterPage,
    DeadLettersChanged,
    DeadLetterShown,
    DiscardDeadLetters,
    GetTrace,
    ListDeadLetters,
    SearchAccess,
    SearchTasks,
    ShowDeadLetter,
    TaskPage,
    TraceStory,
)
from pulse_persistence.audit.answers import AuditAnswers
from pulse_persistence.audit.replay import DeadLetterReplays
from pulse_persistence.schema import migrate, prepare_connection
from pulse_runtime.audit import RecordList, TaskLog
from pulse_runtime.database import create_pool

from tests.support.audit_rows import at, insert_access, insert_letter, insert_step

pytestmark = pytest.mark.integration

TRACE = "a" * 32
OTHER_TRACE = "b" * 32

# (second, status, method, route, path, user, ip, service): ids come out in this order.
METRIC = "/api/v1/metrics/{name:str}"
USER = "/api/v1/admin/users/{user_id:str}"
ACCESS = [
    (0, 200, "GET", METRIC, "/api/v1/metrics/cpu", "u1", "10.0.0.1", "gateway"),
    (10, 404, "GET", USER, "/api/v1/admin/users/x", "u2", "10.0.0.2", "gateway"),
    (20, 201, "POST", "/api/v1/metrics", "/api/v1/metrics", None, "10.0.0.3", "ingest"),
    (30, 400, "POST", "/api/v1/metrics", "/api/v1/metrics?x=1", None, "10.0.0.3", "ingest"),
    (30, 503, "GET", METRIC, "/api/v1/metrics/mem", "u1", "10.0.0.1", "gateway"),
    (40, 200, "GET", "/api/v1/a%b", "/api/v1/a%b", "u1", "10.0.0.1", "gateway"),
]


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=4, init=prepare_connection)
    async with pool.acquire() as conn:
        await migrate(conn)
    yield pool
    await pool.close()


@pytest.fixture
async def answers(pool: asyncpg.Pool) -> AuditAnswers:
    answers = AuditAnswers()
    answers.pool = pool
    answers.replays = DeadLetterReplays(pool, _never_sent, TaskLog(RecordList(), service="t"))
    return answers


async def _never_sent(*_: Any) -> None:
    raise AssertionError("nothing is replayed here")


@pytest.fixture
async def access_ids(pool: asyncpg.Pool) -> list[int]:
    async with pool.acquire() as conn:
        return [
            await insert_access(
                conn,
                second=second,
                trace_id=TRACE if index == 2 else OTHER_TRACE,
                status=status,
                method=method,
                route=route,
                path=path,
                user_id=user,
                ip_address=ip,
                service=service,
            )
            for index, (second, status, method, route, path, user, ip, service) in enumerate(ACCESS)
        ]


async def ids_of(answers: AuditAnswers, **filters: Any) -> list[int]:
    page = await answers.handle(SearchAccess(**filters))
    assert isinstance(page, AccessPage), page
    return [item.id for item in page.items]


async def test_access_search_filters_each_field(
    answers: AuditAnswers, access_ids: list[int]
) -> None:
    a = access_ids
    newest_first = [a[5], a[4], a[3], a[2], a[1], a[0]]  # two at second 30: the later id first
    assert await ids_of(answers) == newest_first
    assert await ids_of(answers, status=404) == [a[1]]
    assert await ids_of(answers, status=4) == [a[3], a[1]]  # the 4xx class
    assert await ids_of(answers, status=5) == [a[4]]
    assert await ids_of(answers, method="post") == [a[3], a[2]]
    # a prefix of the concrete path, query string included ...
    assert await ids_of(answers, path="/api/v1/metrics/") == [a[4], a[0]]
    assert await ids_of(answers, path="/api/v1/metrics?") == [a[3]]
    # ... or of the route template; LIKE's wildcards are plain characters
    assert await ids_of(answers, path="/api/v1/admin/users/{") == [a[1]]
    assert await ids_of(answers, path="/api/v1/a%") == [a[5]]
    assert await ids_of(answers, path="/api/v1/a_") == []
    assert await ids_of(answers, user_id="u1") == [a[5], a[4], a[0]]
    assert await ids_of(answers, ip_address="10.0.0.3") == [a[3], a[2]]
    assert await ids_of(answers, trace_id=TRACE) == [a[2]]
    assert await ids_of(answers, service="ingest") == [a[3], a[2]]
    # [since, until)
    assert await ids_of(answers, since=at(10), until=at(30)) == [a[2], a[1]]
    assert await ids_of(answers, since=at(30).replace(tzinfo=None)) == [a[5], a[4], a[3]]
    assert await ids_of(answers, user_id="u1", status=2, method="GET") == [a[5], a[0]]


async def test_access_pages_walk_everything_once_newest_first(
    answers: AuditAnswers, access_ids: list[int], pool: asyncpg.Pool
) -> None:
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = await answers.handle(SearchAccess(limit=2, cursor=cursor))
        assert isinstance(page, AccessPage)
        seen += [item.id for item in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        if pages == 1:  # a newer record arriving meanwhile does not shift the pages
            async with pool.acquire() as conn:
                await insert_access(conn, second=99, trace_id=TRACE)
    assert pages == 3
    assert seen == sorted(access_ids, key=lambda i: (ACCESS[access_ids.index(i)][0], i))[::-1]
    # a page that ends exactly at the last item has no next page
    page = await answers.handle(SearchAccess(limit=7))
    assert isinstance(page, AccessPage)
    assert len(page.items) == 7
    assert page.next_cursor is None


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (SearchAccess(cursor="not a cursor"), "bad_cursor"),
        (SearchAccess(cursor="WyJ0YXNrcyIsMSwxXQ"), "bad_cursor"),  # ["tasks",1,1]
        (SearchAccess(cursor="WyJhY2Nlc3MiLG51bGwsMV0"), "bad_cursor"),  # no time
        (SearchAccess(cursor="WyJhY2Nlc3MiLDk5OTk5OTk5OTk5OTk5OTk5OTksMV0"), "bad_cursor"),
        (ListDeadLetters(cursor="WyJhY2Nlc3MiLDEsMV0"), "bad_cursor"),  # an access cursor
        (SearchTasks(cursor="eyJ4IjoxfQ"), "bad_cursor"),  # {"x":1}
        (SearchAccess(since=at(5), until=at(5)), "bad_filter"),
        (SearchAccess(status=42), "bad_filter"),
        (SearchTasks(since=at(9), until=at(1)), "bad_filter"),
        (ShowDeadLetter(id=2**63), "dead_letter_not_found"),
        (DiscardDeadLetters(ids=[2**64], by="x"), "bad_request"),
    ],
)
async def test_requests_that_cannot_be_answered_are_refused_with_a_stable_code(
    answers: AuditAnswers, request_: Any, code: str
) -> None:
    reply = await answers.handle(request_)
    assert isinstance(reply, RpcError), reply
    assert reply.code == code


async def test_a_request_on_the_wrong_verb_or_undecodable_is_bad_request(
    answers: AuditAnswers,
) -> None:
    reply = await answers.reply_for("trace", msgspec.msgpack.encode(SearchAccess()), None)
    assert isinstance(reply, RpcError)
    assert reply.code == "bad_request"
    reply = await answers.reply_for("access", b"\xc1", None)
    assert isinstance(reply, RpcError)
    assert reply.code == "bad_request"
    reply = await answers.reply_for(
        "access", msgspec.msgpack.encode({"type": "access.search", "limit": 0}), None
    )
    assert isinstance(reply, RpcError)
    assert reply.code == "bad_request"
    page = await answers.reply_for("access", msgspec.msgpack.encode(SearchAccess()), None)
    assert page == AccessPage(items=[], next_cursor=None)


async def test_numbers_jsonb_gives_back_as_huge_integers_are_answered_as_text(
    answers: AuditAnswers, pool: asyncpg.Pool
) -> None:
    """``jsonb`` keeps a body's ``1e300`` as a 301-digit integer: the answer (msgpack, 64-bit
    integers at most) carries it as its text instead of failing to encode (found by the
    conformance fuzzing: the gateway waited out its timeout and answered 504)."""
    async with pool.acquire() as conn:
        row_id = await insert_access(conn, second=1, trace_id=TRACE)
        await conn.execute(
            "UPDATE audit_access SET request_body = $1::jsonb WHERE id = $2",
            '{"big": 1e300, "negative": [-1e20], "small": 12, "ratio": 0.5, "fine": 9e18}',
            row_id,
        )
    reply = await answers.reply_for("access", msgspec.msgpack.encode(SearchAccess()), None)
    assert isinstance(reply, AccessPage), reply
    msgspec.msgpack.encode(reply)  # the answer encodes
    body = reply.items[0].request_body
    assert body == {
        "big": "1" + "0" * 300,
        "negative": ["-100000000000000000000"],
        "small": 12,
        "ratio": 0.5,
        "fine": 9 * 10**18,
    }


async def steps(pool: asyncpg.Pool, rows: list[tuple[Any, ...]]) -> dict[str, str]:
    """(second, task, run, step, status, order[, error]) rows; returns each run's task id."""
    runs: dict[str, str] = {}
    async with pool.acquire() as conn:
        for second, task, run, step, status, order, *error in rows:
            task_id = runs.setdefault(run, uuid.uuid4().hex)
            await insert_step(
                conn,
                second=second,
                trace_id=TRACE if run == "import" else OTHER_TRACE,
                task_id=task_id,
                task_name=task,
                step_name=step,
                status=status,
                order=order,
                error=error[0] if error else None,
            )
    return runs


async def test_task_runs_show_their_latest_status_steps_and_error(
    answers: AuditAnswers, pool: asyncpg.Pool
) -> None:
    runs = await steps(
        pool,
        [
            (0, "bulk_import", "import", "bulk_import", "START", 1),
            (1, "bulk_import", "import", "chunk 1", "SUCCESS", 2),
            (2, "bulk_import", "import", "chunk 2", "FAILED", 3, "line 201: not a number"),
            (2, "bulk_import", "import", "bulk_import", "FAILED", 4, "line 201: not a number"),
            (5, "audit_retention", "sweep", "audit_retention", "START", 1),
            (5, "audit_retention", "sweep", "audit_access", "SUCCESS", 2),
            (6, "audit_retention", "sweep", "audit_retention", "SUCCESS", 3),
            (8, "bulk_import", "running", "bulk_import", "START", 1),
            (9, "bulk_import", "running", "chunk 1", "IN_PROGRESS", 2),
        ],
    )
    page = await answers.handle(SearchTasks())
    assert isinstance(page, TaskPage)
    assert [(r.task_id, r.status, r.steps, r.error_message) for r in page.items] == [
        (runs["running"], "IN_PROGRESS", 2, None),
        (runs["sweep"], "SUCCESS", 3, None),
        (runs["import"], "FAILED", 4, "line 201: not a number"),
    ]
    failed = page.items[2]
    assert (failed.task_name, failed.service, failed.trace_id) == ("bulk_import", "ingest", TRACE)
    assert (failed.started_at, failed.updated_at) == (at(0), at(2))

    async def run_ids(**filters: Any) -> list[str]:
        found = await answers.handle(SearchTasks(**filters))
        assert isinstance(found, TaskPage)
        return [run.task_id for run in found.items]

    assert await run_ids(status="FAILED") == [runs["import"]]
    assert await run_ids(status="IN_PROGRESS") == [runs["running"]]
    assert await run_ids(task_name="bulk_import") == [runs["running"], runs["import"]]
    assert await run_ids(since=at(1), until=at(8)) == [runs["sweep"]]
    first = await answers.handle(SearchTasks(limit=2))
    assert isinstance(first, TaskPage)
    assert first.next_cursor is not None
    assert await run_ids(limit=2, cursor=first.next_cursor) == [runs["import"]]


async def test_a_trace_tells_its_story_in_time_order(
    answers: AuditAnswers, pool: asyncpg.Pool
) -> None:
    await steps(
        pool,
        [
            # the same instant: the run's own order decides
            (1, "bulk_import", "import", "bulk_import", "START", 1),
            (1, "bulk_import", "import", "chunk 1", "FAILED", 2, "line 3: not a number"),
            (1, "bulk_import", "import", "bulk_import", "FAILED", 3, "line 3: not a number"),
        ],
    )
    async with pool.acquire() as conn:
        request = await insert_access(conn, second=1, trace_id=TRACE, status=400)
        later = await insert_access(conn, second=3, trace_id=TRACE, status=200)
        await insert_access(conn, second=2, trace_id=OTHER_TRACE)
        letter = await insert_letter(
            conn, second=2, origin="ingest.metrics", data=b"{bad", trace_id=TRACE
        )
    story = await answers.handle(GetTrace(trace_id=TRACE))
    assert isinstance(story, TraceStory)
    assert not story.truncated
    assert [(item.kind, item.at) for item in story.items] == [
        ("access", at(1)),
        ("step", at(1)),
        ("step", at(1)),
        ("step", at(1)),
        ("dead_letter", at(2)),
        ("access", at(3)),
    ]
    assert [item.step.step_name for item in story.items if item.step] == [
        "bulk_import", "chunk 1", "bulk_import",
    ]  # fmt: skip
    assert story.items[0].access is not None
    assert story.items[0].access.id == request
    assert story.items[2].step is not None
    assert story.items[2].step.error_message == "line 3: not a number"
    assert story.items[4].dead_letter is not None
    assert story.items[4].dead_letter.id == letter
    assert story.items[4].dead_letter.data is None  # the bytes only in ShowDeadLetter
    assert story.items[5].access is not None
    assert story.items[5].access.id == later
    missing = await answers.handle(GetTrace(trace_id="c" * 32))
    assert missing == RpcError(
        code="trace_not_found", message=f"nothing recorded in trace {'c' * 32}"
    )


async def test_a_long_trace_is_capped_at_its_earliest_items(
    answers: AuditAnswers, pool: asyncpg.Pool
) -> None:
    task_id = uuid.uuid4()
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO audit_task_steps (key, created_at, trace_id, service, task_id,"
            " task_name, step_name, status, execution_order)"
            " SELECT gen_random_uuid(), $1::timestamptz + n * interval '1 ms', $2, 'ingest', $3,"
            " 'bulk_import', 'chunk ' || n, 'SUCCESS', n FROM generate_series(1, $4) AS n",
            at(0),
            TRACE,
            task_id,
            MAX_TRACE_ITEMS + 5,
        )
        await insert_access(conn, second=0, trace_id=TRACE)
    story = await answers.handle(GetTrace(trace_id=TRACE))
    assert isinstance(story, TraceStory)
    assert story.truncated
    assert len(story.items) == MAX_TRACE_ITEMS
    assert story.items[0].kind == "access"
    assert story.items[-1].step is not None
    assert story.items[-1].step.execution_order == MAX_TRACE_ITEMS - 1


HOSTILE = b'{"v": 1}\n\x1b[31mred\xff\xfe \xe2\x80\xae evil \\ end' + b"x" * 400


async def test_dead_letters_are_listed_newest_first_and_shown_safely(
    answers: AuditAnswers, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        first = await insert_letter(
            conn,
            second=0,
            origin="ingest.metrics",
            data=HOSTILE,
            trace_id=TRACE,
            headers={"Content-Type": "application/json", "Authorization": "Bearer s3cr3t"},
        )
        second = await insert_letter(conn, second=1, origin="metrics.host.cpu", data=b"\x93\x01")
        third = await insert_letter(
            conn, second=2, origin="ingest.events", data=b"[]", status="discarded"
        )
    page = await answers.handle(ListDeadLetters())
    assert isinstance(page, DeadLetterPage)
    assert [letter.id for letter in page.items] == [third, second, first]
    listed = page.items[2]
    assert listed.size == len(HOSTILE)
    assert listed.data is None
    assert listed.preview.startswith('{"v": 1}\\n\\x1b[31mred\\xff\\xfe \\u202e evil \\\\ end')
    assert listed.preview.endswith("x" * (256 - len(HOSTILE.split(b"end")[0]) - 3))
    assert listed.headers == {"Content-Type": "application/json", "Authorization": "[redacted]"}

    async def letter_ids(**filters: Any) -> list[int]:
        found = await answers.handle(ListDeadLetters(**filters))
        assert isinstance(found, DeadLetterPage)
        return [letter.id for letter in found.items]

    assert await letter_ids(status="pending") == [second, first]
    assert await letter_ids(origin="ingest.") == [third, first]
    assert await letter_ids(trace_id=TRACE) == [first]
    one = await answers.handle(ListDeadLetters(limit=1))
    assert isinstance(one, DeadLetterPage)
    assert one.next_cursor is not None
    assert await letter_ids(limit=1, cursor=one.next_cursor) == [second]

    shown = await answers.handle(ShowDeadLetter(id=first))
    assert isinstance(shown, DeadLetterShown)
    assert shown.letter.data == HOSTILE
    assert shown.letter.reason == "refused"
    assert shown.letter.status == "pending"
    missing = await answers.handle(ShowDeadLetter(id=third + 100))
    assert isinstance(missing, RpcError)
    assert missing.code == "dead_letter_not_found"


async def test_a_dead_letter_is_discarded_once(answers: AuditAnswers, pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        letter = await insert_letter(conn, second=0, origin="ingest.metrics", data=b"x")
    first = await answers.handle(DiscardDeadLetters(ids=[letter, letter, 999_999], by="ada"))
    assert first == DeadLettersChanged(changed=[letter], skipped=[999_999])
    again = await answers.handle(DiscardDeadLetters(ids=[letter], by="bob"))
    assert again == DeadLettersChanged(changed=[], skipped=[letter])
    shown = await answers.handle(ShowDeadLetter(id=letter))
    assert isinstance(shown, DeadLetterShown)
    assert (shown.letter.status, shown.letter.discarded_by) == ("discarded", "ada")
    assert shown.letter.discarded_at is not None
