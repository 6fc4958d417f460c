"""Contract tests for the container deployment: compose.yaml, deploy/Dockerfile, nats.conf.

They run offline and need no Docker engine: compose.yaml is validated against the Compose
Specification JSON schema and checked for Pulse's own invariants; the Dockerfile is parsed as
text; nats.conf is checked by the real nats-server (`-t`) when its binary is installed.
What each NATS user may do is proven against a running server in test_nats_permissions.py,
what each database role may do against a real PostgreSQL in test_database_roles.py.

Vendored schema: tests/contract/compose-spec.json
    The Compose Specification schema (compose-spec/compose-spec, schema/compose-spec.json;
    "$id": "compose_spec.json", JSON Schema draft-07), copyright the Compose Specification
    authors, licensed under the Apache License 2.0. Byte-for-byte copy of
    `schemas/compose.schema.json` from the npm package dclint 3.1.0 (MIT; its
    scripts/download-compose-schema fetches the file unmodified from compose-spec's main
    branch). It knows `models`, `provider`, `use_api_socket`, `develop`, `gpus`,
    `post_start`/`pre_stop` and `depends_on` `restart`/`required`. Refresh it from a newer
    package the same way (`npm pack dclint`), then update COMPOSE_SPEC_SHA256.
"""

from __future__ import annotations

import copy
import hashlib
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
NATS_CONF = ROOT / "deploy" / "nats" / "nats.conf"
HEALTHCHECK_SCRIPT = ROOT / "deploy" / "image" / "pulse-healthcheck"
TEST_OVERRIDE = ROOT / "tests" / "compose" / "compose.test.yaml"
ROLES_SCRIPT = ROOT / "deploy" / "postgres" / "10-pulse-roles.sh"
ROLES_SQL = ROOT / "deploy" / "postgres" / "roles.sql"
SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")
COMPOSE_SPEC_SHA256 = "46b7d35f19dd93a05f8fea530291bf84d881c1791ec167ecf0e6fb94e639d496"

# The long-running Pulse services and their health/metrics ports (PULSE_<SERVICE>_PORT defaults).
SERVICE_PORTS = {
    "gateway": 8000,
    "ingest": 8001,
    "generator": 8002,
    "persistence": 8003,
    "auth": 8004,
    "notifier": 8007,
    "alerts": 8008,
}
PULSE_SERVICES = sorted(SERVICE_PORTS)
# The NATS cluster: one compose service per node, every stream on each of them (R3).
NATS_NODES = ["nats-1", "nats-2", "nats-3"]
NATS_ROUTES = ",".join(f"nats://{node}:6222" for node in NATS_NODES)
# Host ports the stack publishes; every other service must stay scalable (no fixed host port).
PUBLISHED = {"gateway": "8000:8000", "ingest": "8001:8001"}
# Start-up ordering beyond "nats is healthy", which every Pulse service needs.
EXTRA_DEPENDENCIES = {
    "generator": {"ingest": "service_healthy"},
    "ingest": {},
    "persistence": {"db": "service_healthy", "migrate": "service_completed_successfully"},
    "gateway": {"persistence": "service_healthy", "auth": "service_healthy"},
    "auth": {"db": "service_healthy", "migrate-auth": "service_completed_successfully"},
    "notifier": {
        "db": "service_healthy",
        "migrate-notifier": "service_completed_successfully",
        "auth": "service_healthy",
    },
    "alerts": {"db": "service_healthy", "migrate-alerts": "service_completed_successfully"},
}
# One-shot migration jobs and the service whose image (and migrations) each one runs.
MIGRATE_JOBS = {
    "migrate": "persistence",
    "migrate-auth": "auth",
    "migrate-notifier": "notifier",
    "migrate-alerts": "alerts",
}
# The database role each service (and its migration job) logs in as, and its password's
# variable (deploy/postgres/roles.sql creates the roles). The superuser's is the db's alone.
DB_ROLES = {
    "persistence": "pulse_metrics",
    "migrate": "pulse_metrics",
    "auth": "pulse_auth",
    "migrate-auth": "pulse_auth",
    "notifier": "pulse_notify",
    "migrate-notifier": "pulse_notify",
    "alerts": "pulse_alerts",
    "migrate-alerts": "pulse_alerts",
}
DB_ROLE_PASSWORDS = {
    "pulse_auth": "PULSE_AUTH_DB_PASSWORD",
    "pulse_metrics": "PULSE_METRICS_DB_PASSWORD",
    "pulse_alerts": "PULSE_ALERTS_DB_PASSWORD",
    "pulse_notify": "PULSE_NOTIFY_DB_PASSWORD",
}
DB_SUPERUSER_PASSWORD = "PULSE_DB_PASSWORD"
# NATS users (deploy/nats/nats.conf): one per Pulse service, plus the external producer.
NATS_USERS = [*PULSE_SERVICES, "producer"]
INTERPOLATION = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(?::?[-?+][^}]*)?\}$")
SECRET_KEY = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY)", re.IGNORECASE)


# --------------------------------------------------------------------------- loading helpers


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose["services"]
    assert isinstance(services, dict)
    return services


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    data = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def schema_errors(schema: dict[str, Any], document: Any) -> list[str]:
    # The schema declares draft-07 ("https://json-schema.org/draft-07/schema", a spelling
    # jsonschema's auto-detection does not know), so name the validator explicitly.
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


def as_mapping(value: Any) -> dict[str, Any]:
    """Compose lets environment be a list of KEY=VALUE or a mapping; normalise to a mapping."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    result: dict[str, Any] = {}
    for item in value:
        key, _, val = str(item).partition("=")
        result[key] = val
    return result


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    """depends_on as {service: condition}; the short list form means service_started."""
    raw = service.get("depends_on") or {}
    if isinstance(raw, list):
        return dict.fromkeys(raw, "service_started")
    return {name: (spec or {}).get("condition", "service_started") for name, spec in raw.items()}


def command_list(service: dict[str, Any]) -> list[str]:
    command = service.get("command")
    if isinstance(command, str):
        return command.split()
    return [str(part) for part in command or []]


def iter_strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from iter_strings(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from iter_strings(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, node


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs: comments dropped, continuations joined, heredoc bodies
    attached to their instruction after a newline."""
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    instructions: list[tuple[str, str]] = []
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not line or line.startswith("#"):
            continue
        while line.endswith("\\") and index < len(lines):
            nxt = lines[index].strip()
            index += 1
            if nxt.startswith("#"):
                continue
            line = line[:-1].rstrip() + " " + nxt
        keyword, _, args = line.partition(" ")
        heredoc = re.search(r"<<-?['\"]?(\w+)['\"]?", args)
        if heredoc:
            body = []
            while index < len(lines) and lines[index].strip() != heredoc.group(1):
                body.append(lines[index])
                index += 1
            index += 1
            args = args + "\n" + "\n".join(body)
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def dockerfile_stages() -> dict[str, list[tuple[str, str]]]:
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for keyword, args in dockerfile_instructions():
        if keyword == "FROM":
            match = re.search(r"\bAS\s+(\S+)\s*$", args, re.IGNORECASE)
            assert match, f"every stage needs a name: FROM {args}"
            current = stages.setdefault(match.group(1), [])
        if current is not None:
            current.append((keyword, args))
    return stages


def healthcheck_script() -> str:
    copies = [a for k, a in dockerfile_stages()["service"] if k == "COPY"]
    assert "deploy/image/pulse-healthcheck /usr/local/bin/pulse-healthcheck" in copies
    assert HEALTHCHECK_SCRIPT.stat().st_mode & 0o111, "COPY keeps the mode: executable in git"
    return HEALTHCHECK_SCRIPT.read_text(encoding="utf-8")


def workspace_members() -> list[Path]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = root["tool"]["uv"]["workspace"]["members"]
    excludes = root["tool"]["uv"]["workspace"].get("exclude", [])
    members = {
        path.relative_to(ROOT)
        for pattern in patterns
        for path in ROOT.glob(pattern)
        if (path / "pyproject.toml").is_file()
    }
    excluded = {path.relative_to(ROOT) for pattern in excludes for path in ROOT.glob(pattern)}
    return sorted(members - excluded)


def nats_conf_value(key: str) -> str | None:
    text = re.sub(r"#.*", "", NATS_CONF.read_text(encoding="utf-8"))
    match = re.search(rf"^\s*{key}\s*[:=]?\s*\"?([^\"\s]+)\"?", text, re.MULTILINE)
    return match.group(1) if match else None


# --------------------------------------------------------------------------- Compose schema


def test_vendored_schema_is_the_compose_specification(schema: dict[str, Any]) -> None:
    digest = hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest()
    assert digest == COMPOSE_SPEC_SHA256, "compose-spec.json changed: record its new source"
    assert schema["title"] == "Compose Specification"
    assert "draft-07" in schema["$schema"]
    service_keys = schema["definitions"]["service"]["properties"]
    condition = service_keys["depends_on"]["oneOf"][1]["patternProperties"]
    (dependency,) = condition.values()
    assert "service_completed_successfully" in dependency["properties"]["condition"]["enum"]
    assert "start_interval" in schema["definitions"]["healthcheck"]["properties"]


def test_compose_file_is_valid_against_compose_spec(
    compose: dict[str, Any], schema: dict[str, Any]
) -> None:
    errors = schema_errors(schema, compose)
    assert not errors, "compose.yaml violates the Compose Specification:\n" + "\n".join(errors)


@pytest.mark.parametrize(
    ("mutation", "path"),
    [
        (lambda c: c["services"]["gateway"].update(healthchek={}), "services/gateway"),
        (
            lambda c: c["services"]["persistence"]["depends_on"]["migrate"].update(
                condition="service_finished"
            ),
            "services/persistence/depends_on",
        ),
        (lambda c: c["services"]["nats-1"].update(restart=["always"]), "services/nats-1/restart"),
    ],
    ids=["unknown-key", "bad-condition", "wrong-type"],
)
def test_schema_validation_rejects_broken_files(
    compose: dict[str, Any], schema: dict[str, Any], mutation: Any, path: str
) -> None:
    broken = copy.deepcopy(compose)
    mutation(broken)
    errors = schema_errors(schema, broken)
    assert any(error.startswith(path) for error in errors), errors


# --------------------------------------------------------------------------- Pulse services


def test_every_python_service_is_deployed(services: dict[str, dict[str, Any]]) -> None:
    python_services = {
        member.name for member in workspace_members() if member.parts[0] == "services"
    }
    assert python_services == set(PULSE_SERVICES), "update SERVICE_PORTS and compose.yaml"
    assert set(PULSE_SERVICES) <= set(services)
    assert {*NATS_NODES, "db", *MIGRATE_JOBS} <= set(services)


@pytest.mark.parametrize("name", [*PULSE_SERVICES, *MIGRATE_JOBS])
def test_built_from_the_shared_dockerfile(services: dict[str, dict[str, Any]], name: str) -> None:
    build = services[name]["build"]
    target_service = build["args"]["SERVICE"]
    assert build["context"] == "."
    assert build["dockerfile"] == "deploy/Dockerfile"
    assert (ROOT / build["context"] / build["dockerfile"]).is_file()
    assert target_service == MIGRATE_JOBS.get(name, name)
    member = ROOT / "services" / target_service
    project = tomllib.loads((member / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == f"pulse-{target_service}"
    assert (member / "src" / f"pulse_{target_service}").is_dir()
    # Only the gateway's image has the dashboard's files: its own target; the rest the final
    # stage (also the default), which has none.
    expected_target = "gateway" if target_service == "gateway" else list(dockerfile_stages())[-1]
    assert build["target"] == expected_target
    assert services[name]["image"].split(":")[0] == f"pulse-{target_service}"


@pytest.mark.parametrize("name", PULSE_SERVICES)
def test_readiness_healthcheck(services: dict[str, dict[str, Any]], name: str) -> None:
    healthcheck = services[name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable")
    test = healthcheck["test"]
    assert test[0] in {"CMD", "CMD-SHELL"}
    assert "/readyz" in " ".join(test)
    if "pulse-healthcheck" in test:
        healthcheck_script()  # the image provides it


@pytest.mark.parametrize("name", PULSE_SERVICES)
def test_depends_on_conditions(services: dict[str, dict[str, Any]], name: str) -> None:
    raw = services[name].get("depends_on")
    assert isinstance(raw, dict), f"{name}: use the long depends_on form with conditions"
    assert all("condition" in spec for spec in raw.values()), raw
    expected = {**dict.fromkeys(NATS_NODES, "service_healthy"), **EXTRA_DEPENDENCIES[name]}
    assert depends_on(services[name]) == expected


def test_dependency_graph_is_sound(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for target, condition in depends_on(service).items():
            assert target in services, f"{name} depends on unknown service {target}"
            if condition == "service_healthy":
                check = services[target].get("healthcheck") or {}
                assert check.get("test"), (name, target)
                assert not check.get("disable"), (name, target)
            if condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", (name, target)

    visiting: set[str] = set()
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in visiting, f"depends_on cycle: {' -> '.join((*trail, name))}"
        if name in done:
            return
        visiting.add(name)
        for target in depends_on(services[name]):
            visit(target, (*trail, name))
        visiting.discard(name)
        done.add(name)

    for name in services:
        visit(name, ())


@pytest.mark.parametrize("name", [*PULSE_SERVICES, *MIGRATE_JOBS])
def test_environment(services: dict[str, dict[str, Any]], name: str) -> None:
    env = as_mapping(services[name].get("environment"))
    if name in SERVICE_PORTS:
        # Its own NATS user, with its own password and nobody else's.
        # One URL per NATS node, each with that user: the client moves to another node when
        # it loses its own.
        variable = f"PULSE_NATS_{name.upper()}_PASSWORD"
        urls = [url.strip() for url in env["PULSE_NATS_URL"].split(",")]
        assert len(urls) == len(NATS_NODES), env["PULSE_NATS_URL"]
        for url, node in zip(urls, NATS_NODES, strict=True):
            assert re.fullmatch(rf"nats://{name}:\$\{{{variable}:\?[^}}]+\}}@{node}:4222", url), url
        assert env["PULSE_STREAM_REPLICAS"] == str(len(NATS_NODES)), "R3 on the 3-node cluster"
        assert env[f"PULSE_{name.upper()}_HOST"] == "0.0.0.0"
    else:
        assert "PULSE_NATS_URL" not in env, "migration jobs need no NATS credentials"
    others = {k: v for k, v in env.items() if k != "PULSE_NATS_URL"}
    assert "PULSE_NATS_" not in json.dumps(others), "a service gets only its own NATS password"
    if name in DB_ROLES:
        # Its own role (never the superuser), with that role's password and nobody else's.
        role = DB_ROLES[name]
        variable = DB_ROLE_PASSWORDS[role]
        url = env["PULSE_DATABASE_URL"]
        assert re.fullmatch(
            rf"postgresql://{role}:\$\{{{variable}:\?[^}}]+\}}@db:5432/pulse", url
        ), url
        others = {k: v for k, v in env.items() if k != "PULSE_DATABASE_URL"}
        assert not re.search(r"PULSE_\w*DB_PASSWORD", json.dumps(others)), others
    else:
        assert "PULSE_DATABASE_URL" not in env
    assert DB_SUPERUSER_PASSWORD not in json.dumps(env), "the superuser's password is the db's"


def test_services_scale(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert "container_name" not in service, f"{name}: container_name prevents --scale"
        ports = [str(p) for p in service.get("ports", [])]
        assert ports == ([PUBLISHED[name]] if name in PUBLISHED else []), (name, ports)
    for name, mapping in PUBLISHED.items():
        assert mapping.rsplit(":", 1)[-1] == str(SERVICE_PORTS[name])


def test_services_share_one_definition(services: dict[str, dict[str, Any]]) -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert re.search(r"^x-pulse-service: &pulse-service$", text, re.MULTILINE)
    for name in PULSE_SERVICES:
        block = re.search(rf"^  {name}:\n((?:    .*\n|\n)+)", text, re.MULTILINE)
        assert block, name
        assert "<<: *pulse-service" in block.group(1), f"{name} must merge x-pulse-service"
    first = services[PULSE_SERVICES[0]]
    for name in PULSE_SERVICES[1:]:
        assert services[name]["healthcheck"] == first["healthcheck"]
        assert services[name]["restart"] == first["restart"] == "unless-stopped"


@pytest.mark.parametrize(("job", "service"), MIGRATE_JOBS.items())
def test_migrate_job(services: dict[str, dict[str, Any]], job: str, service: str) -> None:
    migrate = services[job]
    assert command_list(migrate) == ["python", "-m", f"pulse_{service}", "migrate"]
    assert migrate["restart"] == "no"
    assert depends_on(migrate) == {"db": "service_healthy"}
    assert migrate["image"] == services[service]["image"]
    assert migrate["build"] == services[service]["build"]
    assert depends_on(services[service])[job] == "service_completed_successfully"


# --------------------------------------------------------------------------- infrastructure


def test_database(services: dict[str, dict[str, Any]], compose: dict[str, Any]) -> None:
    db = services["db"]
    assert db["image"].split(":")[0] == "timescale/timescaledb"
    assert db["image"].endswith("-pg16")
    env = as_mapping(db["environment"])
    assert env["POSTGRES_USER"] == env["POSTGRES_DB"] == "pulse"
    assert re.fullmatch(r"\$\{PULSE_DB_PASSWORD:\?[^}]+\}", env["POSTGRES_PASSWORD"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    # The role script's passwords, required: compose refuses to start without them.
    for variable in DB_ROLE_PASSWORDS.values():
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env[variable]), env[variable]
    mounts = {}  # target -> (source, options)
    for volume in db["volumes"]:
        source, target, *options = volume.split(":")
        mounts[target] = (source, options)
    source, options = mounts.pop("/var/lib/postgresql/data")
    assert source in compose["volumes"]
    assert not options
    # The init files, read-only, from the repository: the image runs *.sh files in
    # /docker-entrypoint-initdb.d once, when it initialises an empty data directory.
    init_files = {
        "/docker-entrypoint-initdb.d/10-pulse-roles.sh": ROLES_SCRIPT,
        "/pulse/roles.sql": ROLES_SQL,
    }
    assert set(mounts) == set(init_files)
    for target, path in init_files.items():
        source, options = mounts[target]
        assert source.startswith("./")
        assert (ROOT / source).resolve() == path
        assert path.is_file()
        assert options == ["ro"]


def test_database_roles_script() -> None:
    script = ROLES_SCRIPT.read_text(encoding="utf-8")
    assert script.startswith("#!/bin/sh\n")
    assert ROLES_SCRIPT.stat().st_mode & 0o111, "the image sources a non-executable *.sh"
    assert re.search(r"^set -eu$", script, re.MULTILINE)
    command = " ".join(re.sub(r"#.*", "", script).replace("\\\n", " ").split())
    for part in (
        "psql -v ON_ERROR_STOP=1",
        '--username "$POSTGRES_USER" --dbname "$POSTGRES_DB"',
        '-v dbname="$POSTGRES_DB"',
        "-f /pulse/roles.sql",
    ):
        assert part in command, part
    sql = ROLES_SQL.read_text(encoding="utf-8")
    for role, variable in DB_ROLE_PASSWORDS.items():
        # Refuses to run without the password rather than creating a role without one.
        assert f'"${{{variable}:?' in script, variable
        psql_variable = role.removeprefix("pulse_") + "_password"
        assert f'-v {psql_variable}="${variable}"' in command, variable
        assert re.search(
            rf"^CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE .*\n"
            rf"\s+PASSWORD :'{psql_variable}';$",
            sql,
            re.MULTILINE,
        ), role
    assert set(DB_ROLES.values()) == set(DB_ROLE_PASSWORDS)


def test_no_literal_secrets(compose: dict[str, Any]) -> None:
    for path, value in iter_strings(compose):
        key = path.rsplit("/", 1)[-1]
        if SECRET_KEY.search(key):
            assert INTERPOLATION.match(value), f"{path} holds a literal secret"
        # user:password@ in a URL; an interpolation may contain spaces (`${X:?set X}`).
        for match in re.finditer(r"://[^:/@\s]+:(\$\{[^}]*\}|[^@\s]+)@", value):
            assert INTERPOLATION.match(match.group(1)), f"{path}: literal password in a URL"
    for name, service in compose["services"].items():
        for entry in service.get("environment") or []:
            if isinstance(entry, str) and "=" in entry:
                key, _, value = entry.partition("=")
                if SECRET_KEY.search(key):
                    assert INTERPOLATION.match(value), f"{name}: {key} is a literal secret"
    # The same on the raw text, which also covers keys inside x- blocks and anchors.
    for line in COMPOSE_FILE.read_text(encoding="utf-8").splitlines():
        key_value = re.match(r"\s*(?:-\s*)?([\w.-]+)\s*[:=]\s*(\S.*)?$", line.split(" #")[0])
        if key_value and SECRET_KEY.search(key_value.group(1)) and key_value.group(2):
            value = key_value.group(2).strip().strip("\"'")
            assert INTERPOLATION.match(value), f"literal secret: {line.strip()}"


@pytest.mark.parametrize("node", NATS_NODES)
def test_nats_node(services: dict[str, dict[str, Any]], compose: dict[str, Any], node: str) -> None:
    nats = services[node]
    assert nats["image"] == "nats:2.11-alpine"
    command = command_list(nats)
    assert command[command.index("-c") + 1] == "/etc/nats/nats.conf"
    # nats-server rejects a store_dir given both as a flag and in the config file.
    assert not {"-sd", "--store_dir"} & set(command)
    # The cluster: its own name, every node's route, one cluster name; clients keep to the
    # names they were given (no container addresses advertised).
    flags = dict(zip(command[2::2], command[3::2], strict=False))
    assert flags["--name"] == node
    assert flags["--cluster_name"] == "pulse"
    assert flags["--cluster"] == "nats://0.0.0.0:6222"
    assert flags["--routes"] == NATS_ROUTES
    assert command[-1] == "--no_advertise"
    mounts = dict(str(v).split(":")[1::-1] for v in nats["volumes"])  # target -> source
    assert (ROOT / mounts["/etc/nats/nats.conf"]).resolve() == NATS_CONF
    store_dir = nats_conf_value("store_dir")
    assert store_dir in mounts, "JetStream store_dir must be on a volume"
    assert mounts[store_dir] == f"{node}-data", "a store of its own"
    assert mounts[store_dir] in compose["volumes"]
    probe = " ".join(nats["healthcheck"]["test"])
    assert "wget" in probe
    assert f":{nats_conf_value('http_port')}/healthz?js-enabled-only=true" in probe
    assert "ports" not in nats, "NATS has no TLS yet: keep it off the host network"
    assert "ports" not in services["db"]


def test_nats_nodes_are_the_whole_cluster(services: dict[str, dict[str, Any]]) -> None:
    nodes = sorted(name for name, service in services.items() if "nats" in str(service["image"]))
    assert nodes == NATS_NODES
    for name in PULSE_SERVICES:
        # Streams have as many copies as there are nodes (PULSE_STREAM_REPLICAS, checked in
        # test_environment), so losing one node loses nothing.
        assert set(NATS_NODES) <= set(depends_on(services[name]))


def nats_conf_password_variables() -> dict[str, str]:
    """{user: the environment variable holding its password} from nats.conf."""
    text = re.sub(r"#.*", "", NATS_CONF.read_text(encoding="utf-8"))
    users = re.findall(r"\buser\s*:\s*\"?([\w-]+)\"?\s*,?\s*password\s*:\s*(\S+?)[\s,}]", text)
    result = {}
    for user, password in users:
        variable = re.fullmatch(r"\$([A-Z][A-Z0-9_]*)", password)
        assert variable, f"nats.conf: the password of {user} is not an env var reference"
        result[user] = variable.group(1)
    return result


def test_nats_conf() -> None:
    text = NATS_CONF.read_text(encoding="utf-8")
    assert re.search(r"^jetstream\s*\{", text, re.MULTILINE)
    assert nats_conf_value("store_dir") == "/data"
    assert nats_conf_value("http_port") == "8222"
    assert nats_conf_value("max_file_store")
    assert nats_conf_value("max_memory_store")
    # One user per service and per producer, none sharing a password variable.
    passwords = nats_conf_password_variables()
    assert set(passwords) == set(NATS_USERS)
    assert passwords == {user: f"PULSE_NATS_{user.upper()}_PASSWORD" for user in NATS_USERS}
    uncommented = re.sub(r"#.*", "", text)
    assert len(re.findall(r"\bpassword\s*:", uncommented)) == len(passwords)
    assert not re.search(r"no_auth_user", uncommented), "every client must authenticate"


@pytest.mark.parametrize("node", NATS_NODES)
def test_nats_gets_every_password(services: dict[str, dict[str, Any]], node: str) -> None:
    env = as_mapping(services[node].get("environment"))
    variables = set(nats_conf_password_variables().values())
    assert set(env) == variables
    for variable in variables:
        # Required: compose refuses to start without it rather than handing NATS an empty one.
        assert re.fullmatch(rf"\$\{{{variable}:\?[^}}]+\}}", env[variable]), env[variable]


@pytest.mark.parametrize("node", NATS_NODES)
def test_nats_server_accepts_the_compose_command(
    services: dict[str, dict[str, Any]], node: str
) -> None:
    binary = shutil.which("nats-server") or shutil.which(
        "nats-server", path=str(Path(sys.executable).parent)
    )
    if binary is None:
        pytest.skip("nats-server binary not installed")
    command = [
        str(NATS_CONF) if arg == "/etc/nats/nats.conf" else arg
        for arg in command_list(services[node])
    ]
    variables = as_mapping(services[node].get("environment"))
    env = {name: f"test-{name.lower()}" for name in variables}
    result = subprocess.run(
        [binary, *command, "-t"], capture_output=True, text=True, timeout=30, check=False, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Without the passwords the server must refuse to start, not run open.
    missing = sorted(variables)[0]
    del env[missing]
    result = subprocess.run(
        [binary, *command, "-t"], capture_output=True, text=True, timeout=30, check=False, env=env
    )
    assert result.returncode != 0
    assert missing in result.stdout + result.stderr


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_stages_and_base_images() -> None:
    stages = dockerfile_stages()
    assert list(stages) == [
        "uv",
        "dashboard-build",
        "dashboard-prebuilt",
        "dashboard",
        "builder",
        "service",
        "gateway",
        "runtime",
    ]
    froms = {name: instructions[0][1] for name, instructions in stages.items()}
    args = dict(a.split("=", 1) for k, a in dockerfile_instructions() if k == "ARG" and "=" in a)
    # Base images are build args (a machine that cannot pull passes its own), with the
    # published images as defaults.
    assert froms["uv"].startswith("${UV_IMAGE}")
    assert re.fullmatch(r"ghcr\.io/astral-sh/uv:\d+\.\d+(\.\d+)?", args["UV_IMAGE"]), "pin uv"
    assert froms["dashboard-build"].startswith("${NODE_IMAGE}")
    assert re.fullmatch(r"node:20(-slim)?", args["NODE_IMAGE"]), "the dashboard builds on Node 20"
    assert froms["dashboard-prebuilt"].startswith("scratch")
    assert froms["dashboard"].startswith("dashboard-${DASHBOARD}")
    assert args["DASHBOARD"] == "build"
    assert args["PYTHON_IMAGE"] == "python:3.11-slim"
    assert args["PYTHON"] == "/usr/local/bin/python3.11"  # python:3.11-slim's interpreter
    assert froms["builder"].startswith("${PYTHON_IMAGE}")
    assert froms["service"].startswith("${PYTHON_IMAGE}")
    assert froms["gateway"].startswith("service")
    assert froms["runtime"].startswith("service")
    builder = stages["builder"]
    assert ("COPY", "--from=uv /uv /uvx /bin/") in builder
    assert "UV_PYTHON=${PYTHON}" in " ".join(a for k, a in builder if k == "ENV")


def test_dashboard_only_in_the_gateway_image() -> None:
    stages = dockerfile_stages()
    copies = {name: [a for k, a in body if k == "COPY"] for name, body in stages.items()}
    assert "--from=dashboard /dashboard/dist /app/dashboard" in copies["gateway"]
    for name in ("builder", "service", "runtime"):
        assert not any("dashboard" in a for a in copies[name]), name
    assert stages["runtime"] == [("FROM", "service AS runtime")], "the rest: service as it is"
    env = " ".join(a for k, a in stages["gateway"] if k == "ENV")
    assert "PULSE_GATEWAY_DASHBOARD_DIR=/app/dashboard" in env
    # The prebuilt files come from `make dashboard`, which the build context must then hold.
    assert ("COPY", "services/dashboard/dist /dashboard/dist") in stages["dashboard-prebuilt"]
    ignored = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    assert not {"services/dashboard/dist", "**/dist", "dist"} & {p.strip() for p in ignored}


def test_dockerfile_builds_with_the_engines_own_frontend() -> None:
    """No `# syntax=` line (the frontend image would be pulled) and nothing newer than the
    Dockerfile 1.2 syntax that Debian's docker.io 20.10 builds itself: no heredocs, no
    COPY --chmod/--link (tests/compose builds on that engine)."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)
    for keyword, args in dockerfile_instructions():
        assert "<<" not in args, f"{keyword} uses a heredoc"
        if keyword in {"COPY", "ADD"}:
            assert not re.search(r"--(chmod|link|parents|exclude)\b", args), args


def test_dockerfile_installs_only_the_selected_member() -> None:
    builder = dockerfile_stages()["builder"]
    assert ("ARG", "SERVICE") in builder
    syncs = [i for i, (k, a) in enumerate(builder) if k == "RUN" and "uv sync" in a]
    assert len(syncs) == 2
    for index in syncs:
        flags = builder[index][1]
        for flag in ("--frozen", "--no-dev", '--package "pulse-${SERVICE}"', "--no-editable"):
            assert flag in flags
    assert "--no-install-workspace" in builder[syncs[0]][1]
    copied_before_deps = " ".join(a for k, a in builder[: syncs[0]] if k == "COPY")
    assert "uv.lock" in copied_before_deps
    for member in workspace_members():
        assert f"{member.as_posix()}/pyproject.toml" in copied_before_deps, member
    copied_sources = [a for k, a in builder[syncs[0] : syncs[1]] if k == "COPY"]
    assert "services/${SERVICE}/ services/${SERVICE}/" in copied_sources
    assert not any(re.match(r"services/?\s", a) for a in copied_sources), "copy one service"


def test_dockerfile_runtime_stage() -> None:
    runtime = dockerfile_stages()["service"]
    keywords = [k for k, _ in runtime]
    assert ("ARG", "SERVICE") in runtime
    env = " ".join(a for k, a in runtime if k == "ENV")
    assert "PULSE_SERVICE=${SERVICE}" in env
    (user,) = [a for k, a in runtime if k == "USER"]
    assert user.split(":")[0] not in {"root", "0"}
    assert keywords.index("USER") < keywords.index("CMD")
    (cmd,) = [a for k, a in runtime if k == "CMD"]
    assert "python -m" in cmd
    assert "pulse_${PULSE_SERVICE}" in cmd
    assert "exec " in cmd
    (healthcheck,) = [a for k, a in runtime if k == "HEALTHCHECK"]
    assert "pulse-healthcheck" in healthcheck
    assert "/healthz" in healthcheck
    copied = [a for k, a in runtime if k == "COPY" and a.startswith("--from=builder")]
    assert copied == ["--from=builder /app/.venv /app/.venv"]


def test_healthcheck_script_probes_with_urllib() -> None:
    script = healthcheck_script()
    # The venv's python3 (first on the image's PATH), whatever the base image's path to it.
    assert script.startswith("#!/usr/bin/env python3\n")
    assert "urllib.request" in script
    defaults = re.search(r"DEFAULT_PORTS = (\{[^}]*\})", script)
    assert defaults
    assert json.loads(defaults.group(1)) == SERVICE_PORTS


class _ProbeHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_healthcheck_script_exit_codes(tmp_path: Path) -> None:
    script = tmp_path / "pulse-healthcheck"
    script.write_text(healthcheck_script(), encoding="utf-8")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ProbeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {"PULSE_SERVICE": "gateway", "PULSE_GATEWAY_PORT": str(server.server_port)}

        def probe(*args: str) -> int:
            run = subprocess.run(
                [sys.executable, str(script), *args],
                env=env,
                capture_output=True,
                timeout=30,
                check=False,
            )
            return run.returncode

        assert probe() == 0  # /healthz by default
        assert probe("/readyz") == 1  # 503
    finally:
        server.shutdown()
        server.server_close()
    assert probe("/healthz") == 1  # nothing listening


def test_dockerignore_keeps_the_context_small_and_secret_free() -> None:
    patterns = {
        line.strip().strip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for required in (".git", ".venv", ".data", "**/node_modules", "**/__pycache__", ".env"):
        assert required in patterns, required
    for needed in ("uv.lock", "pyproject.toml", "contracts", "libs", "services"):
        assert needed not in patterns, f"{needed} is needed by deploy/Dockerfile"
    assert "!deploy/image" in patterns, "deploy/image/ is copied into every image"


# --------------------------------------------------------------------------- the test override


class _OverrideLoader(yaml.SafeLoader):
    """Reads Compose's `!override` / `!reset` merge tags as the plain value they carry."""


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_OverrideLoader.add_constructor("!override", _tagged)
_OverrideLoader.add_constructor("!reset", _tagged)


def test_the_compose_test_override(services: dict[str, dict[str, Any]]) -> None:
    """tests/compose/compose.test.yaml (make test-compose): local images for what compose.yaml
    pulls, every Pulse image built on the local base, no fixed host port (--scale), small
    streams; and nothing else."""
    override = yaml.load(TEST_OVERRIDE.read_text(encoding="utf-8"), Loader=_OverrideLoader)
    changed = override["services"]
    assert set(changed) <= set(services)
    for node in [*NATS_NODES, "db"]:
        assert changed[node] == {"image": changed[node]["image"]}
        assert changed[node]["image"].startswith("pulse-test-")
    for name, service in services.items():
        if "build" not in service:
            continue
        args = changed[name]["build"]["args"]
        assert args["PYTHON_IMAGE"] == "pulse-base:bookworm"
        assert args["PYTHON"] == "/usr/bin/python3.11"  # Debian's, which the venv links to
        assert args["DASHBOARD"] == "prebuilt"
        assert args["UV_IMAGE"].startswith("pulse-test-uv:")
    for name in PULSE_SERVICES:
        env = changed[name]["environment"]
        assert 0 < int(env["PULSE_STREAM_MAX_BYTES"]) <= 1 << 28, "streams small enough"
        ports = changed[name].get("ports")
        if name in PUBLISHED:
            # The engine picks a host port for each replica, on the loopback only.
            assert ports == [f"127.0.0.1::{SERVICE_PORTS[name]}"], (name, ports)
        else:
            assert ports is None
    assert set(changed) == {*NATS_NODES, "db", *MIGRATE_JOBS, *PULSE_SERVICES}
