"""What every class view starts from: the class (or ``class_not_found``), its notebooks (most
active first), and the notebook asked about (by default the most active one)."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec
from pulse_contracts import RpcError

from .classes import class_not_found

MAX_NOTEBOOKS = 200
"""Notebooks named in an answer (most active first); a class rarely has more than a few."""

_NOTEBOOKS = """
SELECT c.id, n.notebook_path
FROM classes c
LEFT JOIN LATERAL (
    SELECT notebook_path FROM class_notebooks
    WHERE class_id = c.id ORDER BY events DESC, notebook_path LIMIT $2
) n ON true
WHERE c.id = $1
"""


class Scope(msgspec.Struct, frozen=True, kw_only=True):
    class_id: str
    notebooks: list[str]
    notebook_path: str | None
    """The notebook asked about, else the most active one; None: the class has none yet."""


async def class_exists(conn: asyncpg.Pool | asyncpg.Connection, class_id: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT FROM classes WHERE id = $1)", class_id))


async def scope_of(
    conn: asyncpg.Pool | asyncpg.Connection, class_id: str, notebook_path: str | None
) -> Scope | RpcError:
    rows = await conn.fetch(_NOTEBOOKS, class_id, MAX_NOTEBOOKS)
    if not rows:
        return class_not_found(class_id)
    notebooks = [row["notebook_path"] for row in rows if row["notebook_path"] is not None]
    chosen = notebook_path if notebook_path is not None else next(iter(notebooks), None)
    return Scope(class_id=class_id, notebooks=notebooks, notebook_path=chosen)


def invalid_range(start: datetime | None, end: datetime | None) -> RpcError | None:
    """``invalid_range`` when both ends are given and ``end`` is not after ``start``."""
    if start is not None and end is not None and end <= start:
        return RpcError(code="invalid_range", message="'start' must be earlier than 'end'")
    return None
