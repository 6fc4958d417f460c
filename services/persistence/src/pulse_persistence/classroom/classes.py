"""Classes: ``rpc.classroom.{create,update,list,get}``.

Each class gets its own random salt for pseudonymised student ids. Who may see which class
(ADR 0023, decision 5): admins every class, instructors the classes they own, students the
classes whose events carry their id (their email, or its pseudonym under the class's salt).
"""

from __future__ import annotations

import secrets

import asyncpg
from pulse_contracts import RpcError
from pulse_contracts.classroom import (
    ClassInfo,
    ClassList,
    ClassReply,
    CreateClass,
    GetClass,
    ListClasses,
    UpdateClass,
    pseudonym,
)

SALT_BYTES = 16
MAX_LISTED_CLASSES = 10_000
"""A list longer than this is cut (a deployment with more classes pages by owner)."""

_COLUMNS = (
    "c.id, c.title, c.owner_id, c.collect_code, c.pseudonymise, c.planned_cells, c.created_at,"
    " c.api_key_id"
)

_CREATE = f"""
INSERT INTO classes AS c (id, title, owner_id, collect_code, pseudonymise, planned_cells, salt)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO NOTHING
RETURNING {_COLUMNS}
"""

_UPDATE = f"""
UPDATE classes AS c SET
    title = coalesce($2, c.title),
    owner_id = coalesce($3, c.owner_id),
    collect_code = coalesce($4, c.collect_code),
    pseudonymise = coalesce($5, c.pseudonymise),
    planned_cells = coalesce($6, c.planned_cells),
    api_key_id = coalesce($7, c.api_key_id)
WHERE c.id = $1
RETURNING {_COLUMNS}
"""

_GET = f"SELECT {_COLUMNS} FROM classes c WHERE c.id = $1"
_ALL = f"SELECT {_COLUMNS} FROM classes c ORDER BY c.id LIMIT {MAX_LISTED_CLASSES}"
_OWNED = (
    f"SELECT {_COLUMNS} FROM classes c WHERE c.owner_id = $1"
    f" ORDER BY c.id LIMIT {MAX_LISTED_CLASSES}"
)
_SALTS = f"SELECT id, pseudonymise, salt FROM classes ORDER BY id LIMIT {MAX_LISTED_CLASSES}"
# The classes where the student's id (one candidate per class) appears among its students.
_ATTENDED = f"""
SELECT {_COLUMNS}, s.student_id
FROM unnest($1::text[], $2::text[]) AS mine (class_id, student_id)
JOIN class_students s USING (class_id, student_id)
JOIN classes c ON c.id = s.class_id
ORDER BY c.id
"""


def class_not_found(class_id: str) -> RpcError:
    return RpcError(code="class_not_found", message=f"no class {class_id!r}")


def _info(row: asyncpg.Record, student_id: str | None = None) -> ClassInfo:
    return ClassInfo(
        id=row["id"],
        title=row["title"],
        owner_id=row["owner_id"],
        collect_code=row["collect_code"],
        pseudonymise=row["pseudonymise"],
        planned_cells=row["planned_cells"],
        created_at=row["created_at"],
        api_key_id=row["api_key_id"],
        student_id=student_id,
    )


class ClassBook:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, request: CreateClass) -> ClassReply | RpcError:
        row = await self._pool.fetchrow(
            _CREATE,
            request.id,
            request.title,
            request.owner_id,
            request.collect_code,
            request.pseudonymise,
            request.planned_cells,
            secrets.token_hex(SALT_BYTES),
        )
        if row is None:
            return RpcError(code="class_exists", message=f"a class {request.id!r} exists already")
        return ClassReply(class_=_info(row))

    async def update(self, request: UpdateClass) -> ClassReply | RpcError:
        row = await self._pool.fetchrow(
            _UPDATE,
            request.class_id,
            request.title,
            request.owner_id,
            request.collect_code,
            request.pseudonymise,
            request.planned_cells,
            request.api_key_id,
        )
        if row is None:
            return class_not_found(request.class_id)
        return ClassReply(class_=_info(row))

    async def get(self, request: GetClass) -> ClassReply | RpcError:
        row = await self._pool.fetchrow(_GET, request.class_id)
        if row is None:
            return class_not_found(request.class_id)
        return ClassReply(class_=_info(row))

    async def visible(self, request: ListClasses) -> ClassList:
        if request.viewer_role == "admin":
            rows = await self._pool.fetch(_ALL)
            return ClassList(classes=[_info(row) for row in rows])
        if request.viewer_role == "instructor":
            rows = await self._pool.fetch(_OWNED, request.viewer_id)
            return ClassList(classes=[_info(row) for row in rows])
        if request.viewer_role == "student" and request.viewer_email:
            return ClassList(classes=await self._attended(request.viewer_email))
        return ClassList(classes=[])

    async def _attended(self, email: str) -> list[ClassInfo]:
        classes = await self._pool.fetch(_SALTS)
        ids = [row["id"] for row in classes]
        mine = [pseudonym(row["salt"], email) if row["pseudonymise"] else email for row in classes]
        rows = await self._pool.fetch(_ATTENDED, ids, mine)
        return [_info(row, row["student_id"]) for row in rows]
