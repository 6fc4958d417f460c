"""asyncpg pool and the forward-only migration runner.

Migrations are versioned SQL files owned by one service (``0001_metrics.sql``), each applied
in its own transaction, under an advisory lock so several replicas (and services sharing a
database) starting at once are safe.
An applied file that changed afterwards stops the start: history is never rewritten. (A file
may be amended only when the new text names the one it replaces, in a line
``-- pulse:supersedes sha256=<checksum>``, and does the same wherever the old one ran: a fix
for a text that failed on some servers. The ledger keeps the old checksum.) So do a
new file numbered below the latest applied one (it would run out of order) and an applied
version with no file (a newer release ran, or a file was deleted); nothing is applied then.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.resources.abc import Traversable
from typing import TypeVar

import asyncpg
from pulse_contracts import RpcError

from .logging import get_logger

log = get_logger(__name__)

# deploy/postgres/roles.sql creates the same table for compose's separate roles (a test checks).
_LEDGER = """
CREATE TABLE IF NOT EXISTS pulse_migrations (
    owner text NOT NULL,
    version text NOT NULL,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, version)
)
"""


_SUPERSEDES = re.compile(r"^-- pulse:supersedes sha256=([0-9a-f]{64})\s*$", re.MULTILINE)


class MigrationError(RuntimeError):
    """The files and the database's ledger disagree: the start stops, nothing is applied."""


_Pending = tuple[Traversable, str, str, str, str]  # file, version, name, sql, checksum


def _pending(
    owner: str, files: list[Traversable], ledger: dict[str, tuple[str, str]]
) -> list[_Pending]:
    """The files still to apply, in order, once the files agree with the ledger.

    Every check comes before the first file is applied, so a refusal changes nothing.
    """
    known: set[str] = set()
    pending: list[_Pending] = []
    for entry in files:
        version, _, name = entry.name.removesuffix(".sql").partition("_")
        known.add(version)
        sql = entry.read_text(encoding="utf-8")
        checksum = hashlib.sha256(sql.encode()).hexdigest()
        if version not in ledger:
            pending.append((entry, version, name, sql, checksum))
        elif ledger[version][1] not in {checksum, *_SUPERSEDES.findall(sql)}:
            raise MigrationError(
                f"migration {owner}/{entry.name} changed after it was applied; "
                "add a new migration instead"
            )
    unknown = sorted(set(ledger) - known)
    if unknown:
        applied = ", ".join(f"{version}_{ledger[version][0]}.sql" for version in unknown)
        raise MigrationError(
            f"the database has {owner} migrations applied that this code has no file for: "
            f"{applied} (a newer release ran against it, or a file was deleted); "
            "run a release that has them"
        )
    if ledger and pending:
        latest = max(ledger)
        late = [f"{owner}/{entry.name}" for entry, version, *_ in pending if version < latest]
        if late:
            raise MigrationError(
                f"migration {', '.join(late)} {'is' if len(late) == 1 else 'are'} numbered "
                f"below the latest applied version {latest} ({latest}_{ledger[latest][0]}.sql) "
                "and would run out of order; renumber after it"
            )
    return pending


async def create_pool(
    dsn: str,
    *,
    min_size: int = 0,
    max_size: int = 10,
    init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init, command_timeout=60
    )
    assert pool is not None
    return pool


async def apply_migrations(
    conn: asyncpg.Connection, owner: str, directory: Traversable
) -> list[str]:
    """Apply ``owner``'s pending ``NNNN_name.sql`` files in order; returns those applied."""
    files = sorted(
        (entry for entry in directory.iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    # One lock for every owner: the shared ledger table is created under it too, and two
    # owners' first starts at once would otherwise race to create it.
    lock_key = zlib.crc32(b"pulse-migrations")
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
    try:
        # Only when missing: CREATE TABLE IF NOT EXISTS needs CREATE on the schema even when
        # the table exists, and a role without it (compose's pulse_auth, which may not create
        # in public) finds the ledger made for it by deploy/postgres/roles.sql.
        if await conn.fetchval("SELECT to_regclass('pulse_migrations')") is None:
            await conn.execute(_LEDGER)
        ledger = {
            row["version"]: (row["name"], row["checksum"])
            for row in await conn.fetch(
                "SELECT version, name, checksum FROM pulse_migrations WHERE owner = $1", owner
            )
        }
        pending = _pending(owner, files, ledger)
        for entry, version, name, sql, checksum in pending:
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO pulse_migrations (owner, version, name, checksum)"
                    " VALUES ($1, $2, $3, $4)",
                    owner,
                    version,
                    name,
                    checksum,
                )
            applied_now.append(entry.name)
            log.info("migration applied", owner=owner, migration=entry.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
    return applied_now


async def has_timescaledb(conn: asyncpg.Connection) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
        )
    )


async def migrate_database(
    dsn: str, migrate: Callable[[asyncpg.Connection], Awaitable[list[str]]]
) -> list[str]:
    """Apply one owner's migrations and close: the body of ``python -m <service> migrate``."""
    conn = await asyncpg.connect(dsn)
    try:
        applied = await migrate(conn)
    finally:
        await conn.close()
    log.info("migrations up to date", applied=applied)
    return applied


# The database is away (down, restarting, unreachable): wait and retry, never give up on data.
DATABASE_AWAY: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    # A pooled connection the server terminated while idle (its FATAL arrived before the
    # socket closed) refuses to run anything; the retry gets a fresh one.
    asyncpg.InternalClientError,
)

# Text the database cannot store: a NUL (U+0000) in ``text``, or in a ``jsonb`` string. The
# contracts refuse it where a message arrives (pulse_contracts.text.STORABLE); if some text
# gets here all the same, it is the request that is wrong, not the server: answer it as such.
UNSTORABLE_TEXT: tuple[type[BaseException], ...] = (
    asyncpg.CharacterNotInRepertoireError,
    asyncpg.UntranslatableCharacterError,
)


AnswerT = TypeVar("AnswerT")


async def answered(work: Callable[[], Awaitable[AnswerT]], *, failed: str) -> AnswerT | RpcError:
    """``work()``'s answer to a request, or a typed error, so that every request gets one (a
    caller left without one would wait for its timeout): the database away is ``unavailable``
    (retry), text it cannot store is the request's fault (``bad_request``), anything else is a
    bug, logged with its traceback and answered ``internal_error`` with ``failed``."""
    try:
        return await work()
    except DATABASE_AWAY as exc:
        log.warning("database unavailable", error=str(exc))
        return RpcError(code="unavailable", message="the database is unavailable; retry")
    except UNSTORABLE_TEXT as exc:
        log.warning("request with text the database cannot store", error=str(exc))
        return RpcError(
            code="bad_request", message="text the database cannot store (such as a NUL character)"
        )
    except Exception:
        log.exception(failed)
        return RpcError(code="internal_error", message=failed)


@contextlib.asynccontextmanager
async def acquired(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """``pool.acquire()``, except that a connection the database dropped (perhaps inside a
    transaction) is ended here instead of handed back: the pool would reset it and report
    "Resetting connection with an active transaction" as an error."""
    async with pool.acquire() as conn:
        try:
            yield conn
        except DATABASE_AWAY:
            conn.terminate()
            raise


async def create_pool_when_reachable(
    dsn: str,
    stopping: asyncio.Event,
    *,
    max_size: int = 10,
    init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> asyncpg.Pool | None:
    """A pool, once the database answers; None if asked to stop while waiting."""
    delay = 0.2
    while not stopping.is_set():
        pool = await create_pool(dsn, max_size=max_size, init=init)
        try:
            await pool.fetchval("SELECT 1")  # the pool opens lazily (min_size 0): try it
        except DATABASE_AWAY as exc:
            await pool.close()
            log.warning("database not reachable yet, retrying", error=str(exc), retry_in_s=delay)
        else:
            return pool
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), delay)
        delay = min(delay * 2, 5.0)
    return None


async def pool_is_ready(pool: asyncpg.Pool | None) -> bool:
    """For ``/readyz``: the pool exists and the database answers within 2 s."""
    if pool is None:
        return False
    try:
        return await asyncio.wait_for(pool.fetchval("SELECT true"), 2) is True
    except Exception:  # any failure means not ready
        return False
