"""Classes (``rpc.classroom.{create,update,list,get}``) against a real database: a salt per
class, a duplicate id refused, and who may list which class (ADR 0023, decision 5)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import msgspec
import pytest
from pulse_contracts import Codec, RpcError
from pulse_contracts.classroom import (
    ClassList,
    ClassReply,
    CreateClass,
    GetClass,
    ListClasses,
    UpdateClass,
    pseudonym,
)
from pulse_persistence.classroom.answers import ClassroomAnswers
from pulse_persistence.classroom.classes import ClassBook
from pulse_persistence.schema import migrate, prepare_connection
from pulse_runtime.database import create_pool

pytestmark = pytest.mark.integration

INSTRUCTOR = "6f1c0f5e-0000-4000-8000-000000000001"
OTHER_INSTRUCTOR = "6f1c0f5e-0000-4000-8000-000000000002"
STUDENT_EMAIL = "sam@school.example"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=4, init=prepare_connection)
    async with pool.acquire() as conn:
        await migrate(conn)
    yield pool
    await pool.close()


async def test_create_gives_each_class_its_own_salt_and_refuses_a_taken_id(
    pool: asyncpg.Pool,
) -> None:
    book = ClassBook(pool)
    created = await book.create(
        CreateClass(id="bio-1", title="Biology", owner_id=INSTRUCTOR, planned_cells=12)
    )
    assert isinstance(created, ClassReply)
    info = created.class_
    assert (info.id, info.title, info.owner_id, info.planned_cells) == (
        "bio-1",
        "Biology",
        INSTRUCTOR,
        12,
    )
    assert (info.collect_code, info.pseudonymise, info.api_key_id) == (False, False, None)
    await book.create(CreateClass(id="bio-2", title="Biology 2"))
    salts = [row[0] for row in await pool.fetch("SELECT salt FROM classes ORDER BY id")]
    assert len(set(salts)) == 2
    assert all(len(salt) == 32 for salt in salts)
    again = await book.create(CreateClass(id="bio-1", title="Another"))
    assert again == RpcError(code="class_exists", message="a class 'bio-1' exists already")
    assert await book.get(GetClass(class_id="bio-1")) == created


async def test_update_changes_only_what_it_names(pool: asyncpg.Pool) -> None:
    book = ClassBook(pool)
    await book.create(CreateClass(id="bio-1", title="Biology", owner_id=INSTRUCTOR))
    changed = await book.update(
        UpdateClass(class_id="bio-1", pseudonymise=True, api_key_id="key-1")
    )
    assert isinstance(changed, ClassReply)
    assert (changed.class_.title, changed.class_.pseudonymise, changed.class_.api_key_id) == (
        "Biology",
        True,
        "key-1",
    )
    assert changed.class_.owner_id == INSTRUCTOR
    missing = RpcError(code="class_not_found", message="no class 'nope'")
    assert await book.update(UpdateClass(class_id="nope", title="x")) == missing
    assert await book.get(GetClass(class_id="nope")) == missing


async def test_each_role_lists_the_classes_it_may_see(pool: asyncpg.Pool) -> None:
    book = ClassBook(pool)
    await book.create(CreateClass(id="bio-1", title="Biology", owner_id=INSTRUCTOR))
    await book.create(CreateClass(id="chem-1", title="Chemistry", owner_id=OTHER_INSTRUCTOR))
    await book.create(CreateClass(id="hidden", title="Hidden", pseudonymise=True))
    await book.create(CreateClass(id="physics", title="Physics", owner_id=INSTRUCTOR))
    salt = await pool.fetchval("SELECT salt FROM classes WHERE id = 'hidden'")
    # The student is in bio-1 by email and in 'hidden' by pseudonym; someone else in physics.
    await pool.executemany(
        "INSERT INTO class_students VALUES ($1, $2, now(), now())",
        [
            ("bio-1", STUDENT_EMAIL),
            ("hidden", pseudonym(salt, STUDENT_EMAIL)),
            ("physics", "someone@school.example"),
            ("chem-1", pseudonym(salt, STUDENT_EMAIL)),  # another class's salt: not them
        ],
    )

    async def visible(role: str, viewer: str, email: str | None = None) -> list[str]:
        listed = await book.visible(
            ListClasses(viewer_id=viewer, viewer_role=role, viewer_email=email)
        )
        return [c.id for c in listed.classes]

    assert await visible("admin", "x") == ["bio-1", "chem-1", "hidden", "physics"]
    assert await visible("instructor", INSTRUCTOR) == ["bio-1", "physics"]
    assert await visible("instructor", OTHER_INSTRUCTOR) == ["chem-1"]
    assert await visible("student", "x", STUDENT_EMAIL) == ["bio-1", "hidden"]
    assert await visible("student", "x", "nobody@school.example") == []
    assert await visible("student", "x") == []
    assert await visible("user", INSTRUCTOR, STUDENT_EMAIL) == []
    mine = await book.visible(
        ListClasses(viewer_id="x", viewer_role="student", viewer_email=STUDENT_EMAIL)
    )
    assert [c.student_id for c in mine.classes] == [STUDENT_EMAIL, pseudonym(salt, STUDENT_EMAIL)]


def test_pseudonym_is_the_first_16_bytes_of_the_hmac_in_hex() -> None:
    # hmac.new(b"salt", b"sam@school.example", "sha256").hexdigest()[:32]
    assert pseudonym("salt", STUDENT_EMAIL) == "55491d37575ed4e7d16fa70215e850c2"
    assert pseudonym("salt", STUDENT_EMAIL) != pseudonym("pepper", STUDENT_EMAIL)


async def test_the_responder_answers_each_subject_and_refuses_what_it_cannot_decode(
    pool: asyncpg.Pool,
) -> None:
    answers = ClassroomAnswers(Codec(), broker=None)  # type: ignore[arg-type]
    answers.pool = pool
    assert answers.subjects == [
        "rpc.classroom.create",
        "rpc.classroom.get",
        "rpc.classroom.list",
        "rpc.classroom.update",
        "rpc.query.class.feed",
        "rpc.query.class.hotspots",
        "rpc.query.class.overview",
        "rpc.query.class.progress",
        "rpc.query.class.timeline",
    ]
    pack = msgspec.msgpack.encode
    reply, parts = await answers.reply_to(
        "rpc.classroom.create", pack(CreateClass(id="bio-1", title="Biology"))
    )
    assert isinstance(reply, ClassReply)
    assert parts == 0
    listed, _ = await answers.reply_to(
        "rpc.classroom.list", pack(ListClasses(viewer_id="a", viewer_role="admin"))
    )
    assert isinstance(listed, ClassList)
    assert [c.id for c in listed.classes] == ["bio-1"]
    refused, _ = await answers.reply_to("rpc.classroom.get", pack({"type": "get_class"}))
    assert refused == RpcError(
        code="bad_request", message="Object missing required field `class_id`"
    )
    wrong_verb, _ = await answers.reply_to(
        "rpc.classroom.get", pack(CreateClass(id="bio-2", title="x"))
    )
    assert isinstance(wrong_verb, RpcError)
    assert wrong_verb.code == "bad_request"
