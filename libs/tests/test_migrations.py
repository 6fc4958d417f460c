from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path

import asyncpg
import pytest
from pulse_runtime.database import MigrationError, apply_migrations

pytestmark = pytest.mark.integration


def write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql)


async def test_applies_pending_files_in_order_once(tmp_path: Path, database_url: str) -> None:
    write(tmp_path, "0002_more.sql", "INSERT INTO things VALUES (2);")
    write(
        tmp_path, "0001_things.sql", "CREATE TABLE things (id int); INSERT INTO things VALUES (1);"
    )
    conn = await asyncpg.connect(database_url)
    try:
        assert await apply_migrations(conn, "test", tmp_path) == [
            "0001_things.sql",
            "0002_more.sql",
        ]
        assert await apply_migrations(conn, "test", tmp_path) == []
        write(tmp_path, "0003_again.sql", "INSERT INTO things VALUES (3);")
        assert await apply_migrations(conn, "test", tmp_path) == ["0003_again.sql"]
        assert [r["id"] for r in await conn.fetch("SELECT id FROM things ORDER BY id")] == [1, 2, 3]
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_half_done(
    tmp_path: Path, database_url: str
) -> None:
    write(tmp_path, "0001_broken.sql", "CREATE TABLE half (id int); SELECT no_such_function();")
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await apply_migrations(conn, "test", tmp_path)
        assert await conn.fetchval("SELECT to_regclass('half')") is None
        assert await conn.fetchval("SELECT count(*) FROM pulse_migrations") == 0
    finally:
        await conn.close()


async def test_an_applied_file_that_changed_stops_the_start(
    tmp_path: Path, database_url: str
) -> None:
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int);")
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, "test", tmp_path)
        write(tmp_path, "0001_things.sql", "CREATE TABLE things (id bigint);")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await apply_migrations(conn, "test", tmp_path)
    finally:
        await conn.close()


async def test_an_amended_file_naming_the_text_it_replaces_is_accepted(
    tmp_path: Path, database_url: str
) -> None:
    old = "CREATE TABLE things (id int);"
    write(tmp_path, "0001_things.sql", old)
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, "test", tmp_path)
        ledger = await conn.fetchval("SELECT checksum FROM pulse_migrations WHERE owner = 'test'")
        amended = f"-- pulse:supersedes sha256={ledger}\nCREATE TABLE things (id int);\n"
        write(tmp_path, "0001_things.sql", amended)
        assert await apply_migrations(conn, "test", tmp_path) == []
        # The ledger keeps the text that ran, so the release before the amendment still starts.
        write(tmp_path, "0001_things.sql", old)
        assert await apply_migrations(conn, "test", tmp_path) == []
        # Naming some other text is no licence to change this one.
        other = hashlib.sha256(b"something else").hexdigest()
        write(tmp_path, "0001_things.sql", f"-- pulse:supersedes sha256={other}\n{old}")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await apply_migrations(conn, "test", tmp_path)
    finally:
        await conn.close()


async def test_a_new_file_numbered_below_the_latest_applied_is_refused(
    tmp_path: Path, database_url: str
) -> None:
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int);")
    write(tmp_path, "0003_more.sql", "INSERT INTO things VALUES (3);")
    conn = await asyncpg.connect(database_url)
    try:
        assert await apply_migrations(conn, "test", tmp_path) == [
            "0001_things.sql",
            "0003_more.sql",
        ]
        write(tmp_path, "0002_late.sql", "CREATE TABLE late (id int);")
        write(tmp_path, "0004_next.sql", "CREATE TABLE next (id int);")
        with pytest.raises(MigrationError) as refused:
            await apply_migrations(conn, "test", tmp_path)
        message = str(refused.value)
        assert "test/0002_late.sql" in message
        assert "latest applied version 0003 (0003_more.sql)" in message
        assert "0004" not in message
        # Refused before anything ran: neither the late file nor the next one in order.
        assert await conn.fetchval("SELECT to_regclass('late')") is None
        assert await conn.fetchval("SELECT to_regclass('next')") is None
        versions = await conn.fetch("SELECT version FROM pulse_migrations ORDER BY version")
        assert [row["version"] for row in versions] == ["0001", "0003"]
    finally:
        await conn.close()


async def test_applied_versions_without_a_file_are_refused(
    tmp_path: Path, database_url: str
) -> None:
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int);")
    write(tmp_path, "0002_more.sql", "CREATE TABLE more (id int);")
    write(tmp_path, "0003_newer.sql", "CREATE TABLE newer (id int);")
    conn = await asyncpg.connect(database_url)
    try:
        await apply_migrations(conn, "test", tmp_path)
        # An older release's files, against the database a newer release migrated ...
        (tmp_path / "0002_more.sql").unlink()
        (tmp_path / "0003_newer.sql").unlink()
        with pytest.raises(MigrationError) as refused:
            await apply_migrations(conn, "test", tmp_path)
        assert "no file for: 0002_more.sql, 0003_newer.sql" in str(refused.value)
        # ... and refused before a pending file of its own could run.
        write(tmp_path, "0004_other.sql", "CREATE TABLE other (id int);")
        write(tmp_path, "0002_more.sql", "CREATE TABLE more (id int);")
        with pytest.raises(MigrationError, match=r"no file for: 0003_newer\.sql \("):
            await apply_migrations(conn, "test", tmp_path)
        assert await conn.fetchval("SELECT to_regclass('other')") is None
        # Another owner's history is not this owner's concern.
        (tmp_path / "b").mkdir()
        write(tmp_path / "b", "0001_b.sql", "CREATE TABLE b_table (id int);")
        assert await apply_migrations(conn, "b", tmp_path / "b") == ["0001_b.sql"]
    finally:
        await conn.close()


async def test_replicas_starting_at_once_apply_each_migration_once(
    tmp_path: Path, database_url: str
) -> None:
    write(tmp_path, "0001_things.sql", "CREATE TABLE things (id int); SELECT pg_sleep(0.2);")
    connections = [await asyncpg.connect(database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(
            *(apply_migrations(conn, "test", tmp_path) for conn in connections)
        )
    finally:
        for conn in connections:
            await conn.close()
    assert sorted(len(applied) for applied in results) == [0, 0, 0, 1]


async def test_owners_keep_separate_histories(tmp_path: Path, database_url: str) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write(tmp_path / "a", "0001_x.sql", "CREATE TABLE a_table (id int);")
    write(tmp_path / "b", "0001_x.sql", "CREATE TABLE b_table (id int);")
    conn = await asyncpg.connect(database_url)
    try:
        assert await apply_migrations(conn, "a", tmp_path / "a") == ["0001_x.sql"]
        assert await apply_migrations(conn, "b", tmp_path / "b") == ["0001_x.sql"]
    finally:
        await conn.close()


async def test_two_owners_starting_at_once_share_the_ledger_safely(
    tmp_path: Path, database_url: str
) -> None:
    for owner in ("a", "b"):
        (tmp_path / owner).mkdir()
        write(tmp_path / owner, "0001_x.sql", f"CREATE TABLE {owner}_table (id int);")
    connections = [await asyncpg.connect(database_url) for _ in range(2)]
    try:
        results = await asyncio.gather(
            apply_migrations(connections[0], "a", tmp_path / "a"),
            apply_migrations(connections[1], "b", tmp_path / "b"),
        )
    finally:
        for conn in connections:
            await conn.close()
    assert list(results) == [["0001_x.sql"], ["0001_x.sql"]]  # gather returns a list


async def test_an_existing_ledger_needs_no_create_privilege(
    tmp_path: Path, database_url: str
) -> None:
    """A role that may not create in public (compose's pulse_auth) uses the ledger made for
    it: CREATE TABLE IF NOT EXISTS would need CREATE on the schema even though it exists."""
    conn = await asyncpg.connect(database_url)
    role = f"pulse_test_{uuid.uuid4().hex[:12]}"
    try:
        if not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            pytest.skip("needs a superuser to create a role and SET ROLE to it")
        assert await apply_migrations(conn, "first", tmp_path) == []  # creates the ledger
        await conn.execute(f"CREATE ROLE {role} NOLOGIN")
        await conn.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
        await conn.execute(f"GRANT SELECT, INSERT ON pulse_migrations TO {role}")
        await conn.execute(f"SET ROLE {role}")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE IF NOT EXISTS pulse_migrations (id int)")
        write(tmp_path, "0001_nothing.sql", "SELECT 1;")
        assert await apply_migrations(conn, "second", tmp_path) == ["0001_nothing.sql"]
        assert await apply_migrations(conn, "second", tmp_path) == []
    finally:
        await conn.execute("RESET ROLE")
        if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
            await conn.execute(f"DROP OWNED BY {role}")  # its grants, in this database only
            await conn.execute(f"DROP ROLE {role}")
        await conn.close()
