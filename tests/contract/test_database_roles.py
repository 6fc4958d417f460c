"""The database roles of the compose deployment (deploy/postgres/roles.sql), on a real PostgreSQL.

compose.yaml's db service runs deploy/postgres/10-pulse-roles.sh once, as the superuser, when
it initialises its volume: it creates pulse_auth (auth, migrate-auth) and pulse_metrics
(persistence, migrate), neither a superuser. Here the same SQL runs as the test server's
superuser on a fresh database, then each service's migrations run as its role, and what each
role may and may not do is checked. Roles are global to a server, so every test renames them
with a random suffix, and drops them afterwards.

The SQL is run by psql with its variables, as in the image, and also with the variables
substituted here and sent by asyncpg (for machines without psql). On a server that preloads
TimescaleDB (``PULSE_TEST_DATABASE_URL``), roles.sql installs the extension and the migrations
make the hypertable and the continuous aggregates as pulse_metrics, without the privileges a
superuser has.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import pytest
from pulse_alerts import schema as alerts_schema
from pulse_auth import schema as auth_schema
from pulse_notifier import schema as notifier_schema
from pulse_persistence import schema as persistence_schema
from pulse_runtime.database import _LEDGER

from tests.support.stack import create_database, drop_database

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ROLES_SQL = ROOT / "deploy" / "postgres" / "roles.sql"
ROLES_SCRIPT = ROOT / "deploy" / "postgres" / "10-pulse-roles.sh"
ROLE_NAME = re.compile(r"\bpulse_(auth|metrics|notify|alerts)\b")
PSQL_VARIABLE = re.compile(r""":(?:'(\w+)'|"(\w+)")""")


def migration_files(package: str) -> list[str]:
    directory = files(package) / "migrations"
    return sorted(entry.name for entry in directory.iterdir() if entry.name.endswith(".sql"))


AUTH_FILES = migration_files("pulse_auth")
ALERTS_FILES = migration_files("pulse_alerts")
PERSISTENCE_FILES = migration_files("pulse_persistence")
NOTIFIER_FILES = migration_files("pulse_notifier")


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def quote_ident(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@dataclass
class Roles:
    """roles.sql's two roles under unique names, on a fresh database of their own."""

    server_url: str
    database_url: str  # as the server's superuser
    auth: str
    metrics: str
    passwords: dict[str, str]
    notify: str = ""
    """The notifier's role (its schema ``notify``); roles.sql creates it beside the others."""
    alerts: str = ""
    """The alerts service's role (its schema ``alerts``)."""

    @property
    def database(self) -> str:
        return urlsplit(self.database_url).path.lstrip("/")

    def url(self, role: str) -> str:
        """The database, as ``role`` (the embedded server trusts local logins, so its
        password is only checked on a server that asks for one)."""
        parts = urlsplit(self.database_url)
        host = parts.netloc.rpartition("@")[2]
        userinfo = f"{quote(role, safe='')}:{quote(self.passwords[role], safe='')}"
        return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))

    def sql(self) -> str:
        """roles.sql with this test's role names."""
        text = ROLES_SQL.read_text(encoding="utf-8")
        names = {
            "auth": self.auth,
            "metrics": self.metrics,
            "notify": self.notify,
            "alerts": self.alerts,
        }
        renamed = ROLE_NAME.sub(lambda match: names[match.group(1)], text)
        assert renamed != text
        return renamed

    def variables(self) -> dict[str, str]:
        """What 10-pulse-roles.sh passes to psql."""
        return {
            "alerts_password": self.passwords[self.alerts],
            "auth_password": self.passwords[self.auth],
            "metrics_password": self.passwords[self.metrics],
            "notify_password": self.passwords[self.notify],
            "dbname": self.database,
        }

    async def apply(self, runner: str, tmp_path: Path) -> None:
        """Run roles.sql as the superuser, the way 10-pulse-roles.sh does (``psql``) or with
        psql's variables substituted here (``asyncpg``)."""
        if runner == "psql":
            psql = shutil.which("psql")
            if psql is None:
                pytest.skip("psql is not installed")
            script = tmp_path / "roles.sql"
            script.write_text(self.sql(), encoding="utf-8")
            arguments = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
            for name, value in self.variables().items():
                arguments += ["-v", f"{name}={value}"]
            arguments += ["-f", str(script), "--dbname", self.database_url]
            process = await asyncio.create_subprocess_exec(
                *arguments, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            output, _ = await asyncio.wait_for(process.communicate(), 60)
            assert process.returncode == 0, output.decode(errors="replace")
            return
        variables = self.variables()

        def substitute(match: re.Match[str]) -> str:
            literal, identifier = match.groups()
            if literal is not None:
                return quote_literal(variables[literal])
            return quote_ident(variables[identifier])

        conn = await asyncpg.connect(self.database_url)
        try:
            await conn.execute(PSQL_VARIABLE.sub(substitute, self.sql()))
        finally:
            await conn.close()


@pytest.fixture
async def roles(postgres_server_url: str) -> AsyncIterator[Roles]:
    conn = await asyncpg.connect(postgres_server_url)
    try:
        superuser = await conn.fetchval(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        )
    finally:
        await conn.close()
    if not superuser:
        pytest.skip(
            "the PostgreSQL role of PULSE_TEST_DATABASE_URL is not a superuser: roles.sql runs "
            "as the superuser (it creates roles, grants on the database and hands objects over)"
        )
    suffix = secrets.token_hex(4)
    auth, metrics = f"pulse_auth_{suffix}", f"pulse_metrics_{suffix}"
    notify, alerts = f"pulse_notify_{suffix}", f"pulse_alerts_{suffix}"
    # A quote inside proves the password reaches CREATE ROLE quoted, whatever it holds.
    passwords = {role: f"o'{secrets.token_hex(12)}" for role in (auth, metrics, notify, alerts)}
    database_url = await create_database(postgres_server_url)
    try:
        yield Roles(postgres_server_url, database_url, auth, metrics, passwords, notify, alerts)
    finally:
        try:
            await drop_database(postgres_server_url, database_url)
        finally:
            conn = await asyncpg.connect(postgres_server_url)
            try:
                for role in (auth, metrics, notify, alerts):
                    if await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                        await conn.execute(f"DROP OWNED BY {quote_ident(role)}")
                        await conn.execute(f"DROP ROLE {quote_ident(role)}")
            finally:
                await conn.close()


async def assert_denied(conn: asyncpg.Connection, statement: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute(statement)


async def assert_roles(roles: Roles, auth: asyncpg.Connection, metrics: asyncpg.Connection) -> None:
    """Who each role is, what it owns, what it may do, and what it may not."""
    for conn, role in ((auth, roles.auth), (metrics, roles.metrics)):
        row = await conn.fetchrow(
            "SELECT current_user AS name, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls"
            " FROM pg_roles WHERE rolname = current_user"
        )
        assert row is not None
        assert dict(row) == {
            "name": role,
            "rolsuper": False,
            "rolcreatedb": False,
            "rolcreaterole": False,
            "rolbypassrls": False,
        }

    # Each owns its own objects: the schema auth and all in it; everything of persistence's
    # in public. The shared ledger stays the superuser's.
    owners = {
        (row["schema"], row["name"]): row["owner"]
        for row in await metrics.fetch(
            "SELECT n.nspname AS schema, c.relname AS name, pg_get_userbyid(c.relowner) AS owner"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname IN ('auth', 'public')"
        )
    }
    assert (
        await metrics.fetchval(
            "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'auth'"
        )
        == roles.auth
    )
    for (schema, name), owner in owners.items():
        if name.startswith("pulse_migrations"):
            assert owner not in {roles.auth, roles.metrics}, name
        else:
            assert owner == (roles.auth if schema == "auth" else roles.metrics), (schema, name)
    assert {("auth", "signing_keys"), ("auth", "users"), ("public", "metrics")} <= set(owners)
    assert ("public", "series") in owners

    # Neither reads the other's tables.
    await assert_denied(metrics, "SELECT * FROM auth.signing_keys")
    await assert_denied(metrics, "SELECT * FROM auth.users")
    await assert_denied(auth, "SELECT * FROM metrics")
    await assert_denied(auth, "SELECT * FROM series")
    # Nor creates what is not theirs to create, nor rewrites the ledger.
    await assert_denied(auth, "CREATE TABLE public.intruder (id int)")
    await assert_denied(metrics, "CREATE SCHEMA intruder")
    await assert_denied(metrics, "DELETE FROM pulse_migrations")
    await assert_denied(auth, "UPDATE pulse_migrations SET checksum = ''")
    # persistence resolves names in public only (no "$user" schema another role could make).
    assert await metrics.fetchval("SHOW search_path") == "public"

    # What each service does with its own.
    await persistence_schema.prepare_connection(metrics)  # its per-connection temp table
    series_id = await metrics.fetchval(
        "INSERT INTO series (source, name) VALUES ('roles-test', $1) RETURNING id",
        uuid.uuid4().hex,
    )
    await metrics.execute(
        "INSERT INTO metrics (time, series_id, value) VALUES (now(), $1, 1.5)", series_id
    )
    assert await metrics.fetchval("SELECT value FROM metrics WHERE series_id = $1", series_id)
    kid = uuid.uuid4().hex
    await auth.execute(
        "INSERT INTO auth.signing_keys (kid, private_pem) VALUES ($1, 'not a key')", kid
    )
    assert await auth.fetchval("SELECT count(*) FROM auth.signing_keys WHERE kid = $1", kid) == 1

    # Both owners' migrations in the one ledger.
    recorded = {
        (row["owner"], row["version"])
        for row in await auth.fetch("SELECT owner, version FROM pulse_migrations")
    }
    expected = {("auth", name.split("_")[0]) for name in AUTH_FILES} | {
        ("persistence", name.split("_")[0]) for name in PERSISTENCE_FILES
    }
    assert recorded == expected


@pytest.mark.parametrize("runner", ["psql", "asyncpg"])
async def test_each_service_gets_a_role_of_its_own(
    roles: Roles, runner: str, tmp_path: Path
) -> None:
    await roles.apply(runner, tmp_path)
    auth = await asyncpg.connect(roles.url(roles.auth))
    metrics = await asyncpg.connect(roles.url(roles.metrics))
    try:
        assert AUTH_FILES
        assert PERSISTENCE_FILES
        assert await persistence_schema.migrate(metrics) == PERSISTENCE_FILES
        assert await auth_schema.migrate(auth) == AUTH_FILES
        # Idempotent: a restarted migration job applies nothing.
        assert await persistence_schema.migrate(metrics) == []
        assert await auth_schema.migrate(auth) == []
        await assert_roles(roles, auth, metrics)
        await assert_the_notifier_keeps_to_its_schema(roles)
        await assert_alerts_role(roles, metrics)
    finally:
        await auth.close()
        await metrics.close()


async def assert_alerts_role(roles: Roles, metrics: asyncpg.Connection) -> None:
    """alerts migrates its own schema as its own role, and reaches no one else's tables."""
    alerts = await asyncpg.connect(roles.url(roles.alerts))
    try:
        assert await alerts_schema.migrate(alerts) == ALERTS_FILES
        assert await alerts_schema.migrate(alerts) == []
        owner = await alerts.fetchval(
            "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'alerts'"
        )
        assert owner == roles.alerts
        await assert_denied(alerts, "SELECT * FROM auth.users")
        await assert_denied(alerts, "SELECT * FROM series")
        await assert_denied(metrics, "SELECT * FROM alerts.rules")
    finally:
        await alerts.close()


async def assert_the_notifier_keeps_to_its_schema(roles: Roles) -> None:
    """pulse_notify migrates and owns the schema notify, and reads no other service's rows."""
    notify = await asyncpg.connect(roles.url(roles.notify))
    try:
        assert await notifier_schema.migrate(notify) == NOTIFIER_FILES
        assert await notifier_schema.migrate(notify) == []
        owner = await notify.fetchval(
            "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'notify'"
        )
        assert owner == roles.notify
        await notify.execute("INSERT INTO notify.inboxes (user_id) VALUES ('u')")
        await assert_denied(notify, "SELECT * FROM auth.users")
        await assert_denied(notify, "SELECT * FROM series")
    finally:
        await notify.close()


async def test_a_role_that_may_not_install_timescaledb_is_told_what_to_do(
    roles: Roles, tmp_path: Path
) -> None:
    """On a server that preloads TimescaleDB, a database without the extension and a role that
    may not install it: the migration stops with a hint instead of making plain tables."""
    superuser = await asyncpg.connect(roles.database_url)
    try:
        preloaded = await superuser.fetchval(
            "SELECT current_setting('timescaledb.disable_load', true) IS NOT NULL"
        )
        if not preloaded:
            pytest.skip("this server does not preload TimescaleDB")
        await roles.apply("asyncpg", tmp_path)
        await superuser.execute("DROP EXTENSION timescaledb")  # as if roles.sql had not run
    finally:
        await superuser.close()
    metrics = await asyncpg.connect(roles.url(roles.metrics))
    try:
        with pytest.raises(asyncpg.RaiseError) as stopped:
            await persistence_schema.migrate(metrics)
        assert "TimescaleDB is preloaded on this server but not installed" in str(stopped.value)
        assert "CREATE EXTENSION timescaledb" in (stopped.value.hint or "")
        assert await metrics.fetchval("SELECT to_regclass('metrics')") is None  # nothing half
    finally:
        await metrics.close()


async def test_a_database_used_with_one_role_is_handed_over(roles: Roles, tmp_path: Path) -> None:
    """Run by hand on an existing volume, the script hands the superuser's objects over."""
    superuser = await asyncpg.connect(roles.database_url)
    try:
        assert await auth_schema.migrate(superuser) == AUTH_FILES
        assert await persistence_schema.migrate(superuser) == PERSISTENCE_FILES
        user_id = uuid.uuid4()
        await superuser.execute(
            "INSERT INTO auth.users (id, email, password_hash, role)"
            " VALUES ($1, 'old@pulse.test', 'x', 'admin')",
            user_id,
        )
        old_series = await superuser.fetchval(
            "INSERT INTO series (source, name) VALUES ('old', 'cpu') RETURNING id"
        )
    finally:
        await superuser.close()
    await roles.apply("asyncpg", tmp_path)
    auth = await asyncpg.connect(roles.url(roles.auth))
    metrics = await asyncpg.connect(roles.url(roles.metrics))
    try:
        assert await persistence_schema.migrate(metrics) == []
        assert await auth_schema.migrate(auth) == []
        await assert_roles(roles, auth, metrics)
        # The data written before is theirs now, and the identity sequence went along.
        assert await auth.fetchval("SELECT email FROM auth.users WHERE id = $1", user_id)
        assert await metrics.fetchval("SELECT name FROM series WHERE id = $1", old_series)
        assert await metrics.fetchval("SELECT max(id) FROM series") > old_series
    finally:
        await auth.close()
        await metrics.close()


def test_roles_sql_creates_the_runners_ledger() -> None:
    """The same table pulse_runtime.database would create: neither role may create it."""
    assert _LEDGER.strip() + ";" in ROLES_SQL.read_text(encoding="utf-8")


def test_roles_script_is_valid_sh() -> None:
    sh = shutil.which("sh")
    assert sh is not None
    result = subprocess.run(
        [sh, "-n", str(ROLES_SCRIPT)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "missing",
    [
        "PULSE_AUTH_DB_PASSWORD",
        "PULSE_METRICS_DB_PASSWORD",
        "PULSE_NOTIFY_DB_PASSWORD",
        "PULSE_ALERTS_DB_PASSWORD",
    ],
)
def test_roles_script_refuses_to_run_without_a_password(missing: str, tmp_path: Path) -> None:
    sh = shutil.which("sh")
    assert sh is not None
    env = {
        "PATH": str(tmp_path),  # no psql here: the script must stop before it
        "POSTGRES_USER": "pulse",
        "POSTGRES_DB": "pulse",
        "PULSE_AUTH_DB_PASSWORD": "secret",
        "PULSE_METRICS_DB_PASSWORD": "secret",
        "PULSE_NOTIFY_DB_PASSWORD": "secret",
        "PULSE_ALERTS_DB_PASSWORD": "secret",
    }
    for value in ("", None):
        if value is None:
            del env[missing]
        else:
            env[missing] = value
        result = subprocess.run(
            [sh, str(ROLES_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env=env,
        )
        assert result.returncode != 0
        assert f"{missing}: is not set" in result.stderr, result.stderr
        assert "psql" not in result.stderr
