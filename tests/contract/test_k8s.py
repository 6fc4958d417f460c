"""Contract tests for the Kubernetes manifests (deploy/k8s): both overlays, rendered offline.

Each overlay is rendered with the kustomize built into kubectl (tests/contract/k8s_manifests.py),
every object is validated against the Kubernetes API schemas of the oldest version Pulse
supports and of the newest that the ``kubernetes-validate`` package ships, and then Pulse's
own invariants are checked: probes on the health endpoints the code serves, limits and a
locked-down, non-root security context for every container, Secrets that exist and are used,
environment variables that the services' settings read (and none they do not), agreement with
compose.yaml, autoscalers on existing Deployments, and NetworkPolicies that allow exactly the
traffic of the design (worked out by tests/contract/k8s_network.py). No cluster is needed.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import msgspec
import pytest
import yaml
from pulse_alerts.settings import AlertsSettings
from pulse_alerts.settings import Settings as AlertsSettingsRoot
from pulse_auth.settings import AuthSettings
from pulse_auth.settings import Settings as AuthSettingsRoot
from pulse_gateway.settings import GatewaySettings
from pulse_gateway.settings import Settings as GatewaySettingsRoot
from pulse_generator.settings import GeneratorSettings
from pulse_generator.settings import Settings as GeneratorSettingsRoot
from pulse_ingest.settings import IngestSettings
from pulse_ingest.settings import Settings as IngestSettingsRoot
from pulse_notifier.settings import NotifierSettings
from pulse_notifier.settings import Settings as NotifierSettingsRoot
from pulse_persistence.settings import PersistenceSettings
from pulse_persistence.settings import Settings as PersistenceSettingsRoot

from tests.contract.k8s_manifests import (
    K8S,
    OVERLAYS,
    ROOT,
    Manifest,
    containers,
    env_file_keys,
    matches,
    of_kind,
    pod_labels,
    render,
    size_in_bytes,
    workloads,
)
from tests.contract.k8s_network import Endpoint, allowed

# The oldest Kubernetes the manifests promise to work on (HPA v2, PDB v1, seccompProfile and
# the Job's ttlSecondsAfterFinished are all GA well before it), and the newest one known.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())

SETTINGS_ROOTS: dict[str, Callable[[Mapping[str, str]], Any]] = {
    "alerts": AlertsSettingsRoot.from_environ,
    "auth": AuthSettingsRoot.from_environ,
    "gateway": GatewaySettingsRoot.from_environ,
    "generator": GeneratorSettingsRoot.from_environ,
    "ingest": IngestSettingsRoot.from_environ,
    "notifier": NotifierSettingsRoot.from_environ,
    "persistence": PersistenceSettingsRoot.from_environ,
}
PULSE_SERVICES = sorted(SETTINGS_ROOTS)
LISTENERS: dict[str, type[msgspec.Struct]] = {
    "alerts": AlertsSettings,
    "auth": AuthSettings,
    "gateway": GatewaySettings,
    "generator": GeneratorSettings,
    "ingest": IngestSettings,
    "notifier": NotifierSettings,
    "persistence": PersistenceSettings,
}
EDGE = {"gateway", "ingest"}  # a public port, and a management port beside it
AUTOSCALED = {"gateway", "ingest", "persistence"}
NOT_SCALABLE = {"generator"}  # a second one would publish the same simulated series again
# The services that own a schema, the database role each logs in as (deploy/postgres/roles.sql)
# and its migration Job.
DATABASE_OWNERS = {
    "persistence": "pulse_metrics",
    "auth": "pulse_auth",
    "notifier": "pulse_notify",
    "alerts": "pulse_alerts",
}
MIGRATION_JOBS = {f"migrate-{service}": service for service in DATABASE_OWNERS}
COMPOSE_MIGRATE = {  # compose.yaml's name for the same job
    "migrate-persistence": "migrate",
    "migrate-auth": "migrate-auth",
    "migrate-notifier": "migrate-notifier",
    "migrate-alerts": "migrate-alerts",
}
NATS_USERS_MARKER = re.compile(r"^# -+ users and permissions$", re.MULTILINE)
IMAGE = re.compile(r"^ghcr\.io/(?P<owner>[^/]+)/pulse-(?P<service>[a-z]+):(?P<tag>[\w.-]+)$")
EXTERNAL_DATABASE = "192.0.2.10"  # production's placeholder address (RFC 5737)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


_RENDERED: dict[str, list[Manifest]] = {}


def rendered(name: str) -> list[Manifest]:
    if name not in _RENDERED:
        _RENDERED[name] = render(OVERLAYS[name])
    return _RENDERED[name]


@pytest.fixture(scope="module")
def objects(overlay: str) -> list[Manifest]:
    return rendered(overlay)


class _RecordingEnviron(Mapping[str, str]):
    """An empty environment that remembers every variable asked for (as the README's test)."""

    def __init__(self) -> None:
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def variables_read_by(service: str) -> set[str]:
    environ = _RecordingEnviron()
    SETTINGS_ROOTS[service](environ)
    return environ.asked


def listener_default(service: str, name: str) -> Any:
    """A ``PULSE_<SERVICE>_<NAME>`` setting's default."""
    return {f.name: f.default for f in msgspec.structs.fields(LISTENERS[service])}[name]


def default_ports(service: str) -> tuple[int | None, int]:
    """(public port or None, management port) from the settings' defaults."""
    defaults = {f.name: f.default for f in msgspec.structs.fields(LISTENERS[service])}
    if service in EDGE:
        return defaults["port"], defaults["metrics_port"]
    return None, defaults["port"]


def pulse_containers(objects: list[Manifest]) -> Iterator[tuple[str, str, Manifest, Manifest]]:
    """(workload name, service, pod spec, container) of every container running Pulse code."""
    for kind, name, pod in workloads(objects):
        for container in containers(pod):
            if kind == "Deployment" and name in SETTINGS_ROOTS:
                yield name, name, pod, container
            elif kind == "Job" and name in MIGRATION_JOBS:
                yield name, MIGRATION_JOBS[name], pod, container


def config_map_keys(objects: list[Manifest], name: str) -> set[str]:
    config_maps = of_kind(objects, "ConfigMap")
    assert name in config_maps, f"ConfigMap {name} does not exist"
    return set(config_maps[name].get("data", {}))


def container_env(objects: list[Manifest], container: Manifest) -> list[tuple[str, Any]]:
    """Every variable the container gets, in order: envFrom ConfigMaps' keys, then env."""
    names: list[tuple[str, Any]] = []
    for source in container.get("envFrom", []):
        assert set(source) == {"configMapRef"}, f"only ConfigMaps by envFrom: {source}"
        data = of_kind(objects, "ConfigMap")[source["configMapRef"]["name"]]["data"]
        names.extend(data.items())
    for item in container.get("env", []):
        names.append((item["name"], item.get("value", item.get("valueFrom"))))
    return names


def env_value(container: Manifest, name: str) -> str:
    for item in container.get("env", []):
        if item["name"] == name:
            value: str = item["value"]
            return value
    raise AssertionError(f"{container['name']} does not set {name}")


def secret_key_of(container: Manifest, name: str) -> tuple[str, str]:
    for item in container.get("env", []):
        if item["name"] == name:
            ref = item["valueFrom"]["secretKeyRef"]
            return ref["name"], ref["key"]
    raise AssertionError(f"{container['name']} does not set {name}")


def base_name(name: str) -> str:
    """A generated object's name without kustomize's content hash (``pulse-admin-5f8k2m``)."""
    return re.sub(r"-[a-z0-9]{10}$", "", name)


# --------------------------------------------------------------------------- schemas


def test_both_overlays_render() -> None:
    for name in OVERLAYS:
        kinds = {obj["kind"] for obj in rendered(name)}
        assert {"Deployment", "StatefulSet", "Job", "NetworkPolicy", "Service"} <= kinds, name


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_is_valid_against_the_kubernetes_schemas(
    objects: list[Manifest], version: str
) -> None:
    errors = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    assert errors == []


def test_schema_validation_rejects_broken_objects() -> None:
    deployment = copy.deepcopy(of_kind(rendered("dev"), "Deployment")["gateway"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["periodSecond"] = 5
    with pytest.raises(kubernetes_validate.ValidationError):  # strict: an unknown field
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)
    deployment = copy.deepcopy(of_kind(rendered("dev"), "Deployment")["gateway"])
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


# --------------------------------------------------------------------------- workloads


def test_a_deployment_per_service(objects: list[Manifest]) -> None:
    assert sorted(of_kind(objects, "Deployment")) == PULSE_SERVICES


@pytest.mark.parametrize("service", PULSE_SERVICES)
def test_probes_on_the_health_endpoints_the_service_serves(
    objects: list[Manifest], service: str
) -> None:
    pod = of_kind(objects, "Deployment")[service]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    public, management = default_ports(service)
    assert ports == (
        {"http": public, "management": management} if public else {"management": management}
    )
    expected = {
        "readinessProbe": "/readyz",
        "livenessProbe": "/healthz",
        "startupProbe": "/healthz",
    }
    for probe, path in expected.items():
        action = container[probe]["httpGet"]
        assert (action["path"], ports[action["port"]]) == (path, management), (service, probe)
    # The management listener binds every address: the kubelet probes the pod's IP.
    host = "METRICS_HOST" if service in EDGE else "HOST"
    assert env_value(container, f"PULSE_{service.upper()}_{host}") == "0.0.0.0"


def test_every_long_running_container_has_readiness_and_liveness_probes(
    objects: list[Manifest],
) -> None:
    for kind, name, pod in workloads(objects):
        if kind == "Job":
            continue  # a one-shot migration serves nothing to probe
        for container in containers(pod):
            for probe in ("readinessProbe", "livenessProbe"):
                assert probe in container, f"{kind}/{name} {container['name']}: no {probe}"


def cpu_millis(quantity: str | int) -> int:
    text = str(quantity)
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def test_every_container_has_requests_and_limits(objects: list[Manifest]) -> None:
    for kind, name, pod in workloads(objects):
        for container in containers(pod):
            resources = container.get("resources", {})
            where = f"{kind}/{name} {container['name']}"
            for bound in ("requests", "limits"):
                assert set(resources.get(bound, {})) == {"cpu", "memory"}, f"{where}: {bound}"
            assert cpu_millis(resources["requests"]["cpu"]) <= cpu_millis(
                resources["limits"]["cpu"]
            )
            assert size_in_bytes(resources["requests"]["memory"]) <= size_in_bytes(
                resources["limits"]["memory"]
            ), where


def test_every_container_runs_as_a_locked_down_non_root_user(objects: list[Manifest]) -> None:
    for kind, name, pod in workloads(objects):
        pod_context = pod.get("securityContext", {})
        assert pod_context.get("seccompProfile") == {"type": "RuntimeDefault"}, name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in containers(pod):
            where = f"{kind}/{name} {container['name']}"
            context = {**pod_context, **container.get("securityContext", {})}
            assert context.get("runAsNonRoot") is True, where
            assert isinstance(context.get("runAsUser"), int), where
            assert context["runAsUser"] != 0, where
            assert context.get("readOnlyRootFilesystem") is True, where
            assert context.get("allowPrivilegeEscalation") is False, where
            assert context.get("capabilities") == {"drop": ["ALL"]}, where
            assert "privileged" not in context, where


def test_writable_directories_are_volumes(objects: list[Manifest]) -> None:
    """A read-only root filesystem: /tmp, and the audit spool where the service has one."""
    for name, service, pod, container in pulse_containers(objects):
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], name
        if name in SETTINGS_ROOTS and "PULSE_AUDIT_SPOOL_DIR" in variables_read_by(service):
            spool = env_value(container, "PULSE_AUDIT_SPOOL_DIR")
            assert "emptyDir" in volumes[mounts[spool]], name


def test_images(objects: list[Manifest], overlay: str) -> None:
    owners = set()
    for name, service, _pod, container in pulse_containers(objects):
        match = IMAGE.match(container["image"])
        assert match, f"{name}: {container['image']} is not ghcr.io/OWNER/pulse-<service>:TAG"
        assert match["service"] == service, name
        assert match["tag"] != "latest"
        if overlay == "production":
            assert match["tag"] not in {"main", "dev"}, "production pins a release or a sha"
        owners.add(match["owner"])
    assert len(owners) == 1
    statefulsets = of_kind(objects, "StatefulSet")
    assert re.fullmatch(r"nats:2\.\d+(\.\d+)?-alpine", image_of(statefulsets["nats"]))
    if "timescaledb" in statefulsets:
        assert re.fullmatch(
            r"timescale/timescaledb:2\.\d+\.\d+-pg15", image_of(statefulsets["timescaledb"])
        )


def image_of(workload: Manifest) -> str:
    image: str = workload["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


# --------------------------------------------------------------------------- settings


def test_every_variable_a_pulse_container_sets_is_read_by_its_settings(
    objects: list[Manifest],
) -> None:
    for name, service, _pod, container in pulse_containers(objects):
        known = variables_read_by(service)
        seen: set[str] = set()
        for variable, value in container_env(objects, container):
            assert variable not in seen, f"{name}: {variable} set twice"
            # $(NAME) is expanded by Kubernetes only from variables listed before it; any other
            # would reach the service as the literal text.
            if isinstance(value, str):
                for reference in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", value):
                    assert reference in seen, f"{name}: {variable} uses $({reference}) before it"
            seen.add(variable)
            if variable.startswith("PULSE_"):
                assert variable in known, f"{name}: {service}'s settings never read {variable}"
        # A variable outside PULSE_* is there only to be expanded into a PULSE_ one.
        values = " ".join(str(v) for _, v in container_env(objects, container))
        for helper in seen - known:
            assert not helper.startswith("PULSE_")
            assert f"$({helper})" in values, f"{name}: {helper} is set but never used"


def test_each_service_connects_as_its_own_nats_user(objects: list[Manifest]) -> None:
    for name, service, _pod, container in pulse_containers(objects):
        if name not in SETTINGS_ROOTS:
            assert "PULSE_NATS_URL" not in {e["name"] for e in container["env"]}, name
            continue  # migrations use the database only
        url = env_value(container, "PULSE_NATS_URL")
        assert url == f"nats://{service}:$(NATS_PASSWORD)@nats:4222", name
        assert (
            secret_key_of(container, "NATS_PASSWORD")[1] == f"PULSE_NATS_{service.upper()}_PASSWORD"
        )


def test_database_urls_use_each_services_own_role(objects: list[Manifest]) -> None:
    owners = {**of_kind(objects, "Deployment"), **of_kind(objects, "Job")}
    for name, service, _pod, container in pulse_containers(objects):
        labels = pod_labels(owners[name])
        variables = {e["name"] for e in container["env"]}
        if service not in DATABASE_OWNERS:
            assert "PULSE_DATABASE_URL" not in variables, name
            assert "pulse/database-client" not in labels, name
            continue
        role = DATABASE_OWNERS[service]
        assert env_value(container, "PULSE_DATABASE_URL") == (
            f"postgresql://{role}:$(DB_PASSWORD)@$(DB_HOST):$(DB_PORT)/$(DB_NAME)"
            "?sslmode=$(DB_SSLMODE)"
        )
        password = role.removeprefix("pulse_").upper()
        assert secret_key_of(container, "DB_PASSWORD")[1] == f"PULSE_{password}_DB_PASSWORD"
        assert labels.get("pulse/database-client") == "true", name


def test_migration_jobs_run_each_schema_owners_migrations(objects: list[Manifest]) -> None:
    jobs = of_kind(objects, "Job")
    assert sorted(jobs) == sorted(MIGRATION_JOBS)
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    for name, service in MIGRATION_JOBS.items():
        (container,) = jobs[name]["spec"]["template"]["spec"]["containers"]
        assert container["command"] == compose[COMPOSE_MIGRATE[name]]["command"]
        assert container["command"] == ["python", "-m", f"pulse_{service}", "migrate"]


def compose_environment(service: str) -> dict[str, str]:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    return {key: str(value) for key, value in compose[service]["environment"].items()}


@pytest.mark.parametrize("service", PULSE_SERVICES)
def test_consistent_with_compose(objects: list[Manifest], service: str) -> None:
    """What compose sets for a service (and the service reads), Kubernetes sets too, with the
    same value where compose's is a plain one; the NATS user and database role are the same."""
    (container,) = of_kind(objects, "Deployment")[service]["spec"]["template"]["spec"]["containers"]
    ours = dict(container_env(objects, container))
    read = variables_read_by(service)
    for variable, value in compose_environment(service).items():
        if variable not in read:
            continue  # e.g. compose gives the generator an audit spool it has no setting for
        assert variable in ours, f"{service}: compose sets {variable}, Kubernetes does not"
        if "${" not in value and "://" not in value:
            assert str(ours[variable]) == value, f"{service}: {variable}"
        if variable == "PULSE_NATS_URL":
            assert value.split("://")[1].split(":")[0] == service
        if variable == "PULSE_DATABASE_URL":
            assert value.split("://")[1].split(":")[0] == DATABASE_OWNERS[service]


# --------------------------------------------------------------------------- secrets


def production_secret_keys() -> dict[str, set[str]]:
    """The Secrets production expects to exist: secrets/<name>.env.example lists their keys."""
    folder = OVERLAYS["production"] / "secrets"
    return {
        f"pulse-{path.name.removesuffix('.env.example')}": set(env_file_keys(path))
        for path in folder.glob("*.env.example")
    }


def secret_references(objects: list[Manifest]) -> Iterator[tuple[str, str, str | None, bool]]:
    """(where, Secret name, key or None for all, optional) of every use of a Secret."""
    for kind, name, pod in workloads(objects):
        for container in containers(pod):
            where = f"{kind}/{name} {container['name']}"
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    yield where, ref["name"], ref["key"], bool(ref.get("optional"))
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    yield where, source["secretRef"]["name"], None, False
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                yield f"{kind}/{name}", volume["secret"]["secretName"], None, False


def test_every_secret_reference_resolves(objects: list[Manifest], overlay: str) -> None:
    if overlay == "dev":
        available = {
            name: set(secret.get("data", {})) for name, secret in of_kind(objects, "Secret").items()
        }
    else:
        assert of_kind(objects, "Secret") == {}, "production's Secrets are made outside git"
        available = production_secret_keys()
    references = list(secret_references(objects))
    assert references
    for where, name, key, _optional in references:
        assert name in available, f"{where}: Secret {name} does not exist"
        assert key is None or key in available[name], f"{where}: {name} has no key {key}"


def test_every_secret_is_used(objects: list[Manifest], overlay: str) -> None:
    used = {(name, key) for _, name, key, _ in secret_references(objects)}
    if overlay == "dev":
        secrets = {n: set(s.get("data", {})) for n, s in of_kind(objects, "Secret").items()}
    else:
        secrets = production_secret_keys()
    assert secrets
    for name, keys in secrets.items():
        for key in keys:
            assert (name, key) in used or (name, None) in used, f"{name}/{key} is never used"


def test_dev_secrets_are_fake_and_match_productions(objects: list[Manifest]) -> None:
    dev_folder = OVERLAYS["dev"] / "secrets"
    examples = production_secret_keys()
    for path in dev_folder.glob("*.env"):
        name = f"pulse-{path.stem}"
        values = env_file_keys(path)
        for key, value in values.items():
            assert re.search(r"dev.only.*not.a.secret|^admin@pulse\.localhost$", value), (
                f"{path.name}: {key} does not look like an obviously fake value"
            )
        if name in examples:
            assert set(values) == examples[name], name
        else:
            assert name == "pulse-db-superuser", "only the in-cluster database's is dev-only"
    for path in (OVERLAYS["production"] / "secrets").glob("*.env.example"):
        assert all(v == "" for v in env_file_keys(path).values()), f"{path.name}: values"
    assert not list((OVERLAYS["production"]).rglob("*.env")), "no real secrets in git"


def test_no_password_as_a_literal(objects: list[Manifest]) -> None:
    for kind, name, pod in workloads(objects):
        for container in containers(pod):
            for item in container.get("env", []):
                if re.search("PASSWORD|SECRET|TOKEN", item["name"]):
                    assert "valueFrom" in item, f"{kind}/{name}: {item['name']} as a literal"
    for config_map in of_kind(objects, "ConfigMap").values():
        for key in config_map.get("data", {}):
            assert not re.search("(?i)password|secret|token", key), key


def test_every_config_map_reference_resolves(objects: list[Manifest]) -> None:
    for kind, name, pod in workloads(objects):
        for container in containers(pod):
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    assert ref["key"] in config_map_keys(objects, ref["name"]), (kind, name)
        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                config_map_keys(objects, volume["configMap"]["name"])


# --------------------------------------------------------------------------- scaling


def test_autoscalers_target_existing_deployments(objects: list[Manifest], overlay: str) -> None:
    deployments = of_kind(objects, "Deployment")
    autoscalers = of_kind(objects, "HorizontalPodAutoscaler")
    assert set(autoscalers) == AUTOSCALED
    for name, hpa in autoscalers.items():
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        assert target["name"] in deployments, name
        deployment = deployments[target["name"]]
        # A replica count in the Deployment would fight the autoscaler at every apply.
        assert "replicas" not in deployment["spec"], name
        # Utilization is a share of the requests: without them the autoscaler does nothing.
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert "cpu" in container["resources"]["requests"], name
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        if overlay == "production":
            assert hpa["spec"]["minReplicas"] >= 2, f"{name}: one replica is no redundancy"


# PostgreSQL's default max_connections (100) less superuser_reserved_connections (3).
DATABASE_CONNECTIONS = 97
EXTRA_CONNECTIONS = {"alerts": 1}  # the evaluator's lock lives on a connection of its own


def test_the_database_connections_fit_at_full_scale(objects: list[Manifest]) -> None:
    """Every database-owning replica at its most, each pool full, and the migration Jobs:
    within the connections a default PostgreSQL takes (an autoscaler adding persistence
    replicas past it would make new connections fail, not work go faster)."""
    deployments = of_kind(objects, "Deployment")
    autoscalers = of_kind(objects, "HorizontalPodAutoscaler")
    total = len(MIGRATION_JOBS)
    for service in DATABASE_OWNERS:
        spec = deployments[service]["spec"]
        replicas = (
            autoscalers[service]["spec"]["maxReplicas"]
            if service in autoscalers
            else spec["replicas"]
        )
        (container,) = spec["template"]["spec"]["containers"]
        variable = f"PULSE_{service.upper()}_POOL_SIZE"
        env = dict(container_env(objects, container))
        pool = int(env.get(variable) or listener_default(service, "pool_size"))
        total += replicas * (pool + EXTRA_CONNECTIONS.get(service, 0))
    assert total <= DATABASE_CONNECTIONS


def test_services_that_must_not_scale(objects: list[Manifest]) -> None:
    deployments = of_kind(objects, "Deployment")
    for name in NOT_SCALABLE:
        assert deployments[name]["spec"]["replicas"] == 1
        assert deployments[name]["spec"]["strategy"] == {"type": "Recreate"}
        assert name not in of_kind(objects, "HorizontalPodAutoscaler")


def test_disruption_budgets(objects: list[Manifest]) -> None:
    budgets = list(of_kind(objects, "PodDisruptionBudget").values())
    for kind in ("Deployment", "StatefulSet"):
        for name, obj in of_kind(objects, kind).items():
            if name == "timescaledb":
                continue  # one pod: a budget would only block node drains
            covering = [b for b in budgets if matches(b["spec"]["selector"], pod_labels(obj))]
            assert len(covering) == 1, f"{kind}/{name}: {len(covering)} budgets"
            assert covering[0]["spec"] == {**covering[0]["spec"], "maxUnavailable": 1}


def test_services_select_pods_and_their_ports(objects: list[Manifest]) -> None:
    pods = [
        (
            pod_labels(obj),
            {
                p["name"]
                for c in containers(obj["spec"]["template"]["spec"])
                for p in c.get("ports", [])
            },
        )
        for obj in objects
        if obj["kind"] in ("Deployment", "StatefulSet")
    ]
    for name, service in of_kind(objects, "Service").items():
        selected = [
            ports
            for labels, ports in pods
            if matches({"matchLabels": service["spec"]["selector"]}, labels)
        ]
        assert selected, f"Service {name} selects no pods"
        for port in service["spec"]["ports"]:
            assert all(port["targetPort"] in ports for ports in selected), (name, port)
    ingress = of_kind(objects, "Ingress")["pulse"]
    backends = {
        path["backend"]["service"]["name"]: path["backend"]["service"]["port"]["name"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert backends == {"gateway": "http", "ingest": "http"}


# --------------------------------------------------------------------------- NATS


def nats_config(objects: list[Manifest]) -> str:
    statefulset = of_kind(objects, "StatefulSet")["nats"]
    (volume,) = [v for v in statefulset["spec"]["template"]["spec"]["volumes"] if "configMap" in v]
    text: str = of_kind(objects, "ConfigMap")[volume["configMap"]["name"]]["data"]["nats.conf"]
    return text


def test_nats_is_a_three_node_jetstream_cluster(objects: list[Manifest]) -> None:
    statefulset = of_kind(objects, "StatefulSet")["nats"]
    spec = statefulset["spec"]
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"
    headless = of_kind(objects, "Service")[spec["serviceName"]]["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is True
    config = re.sub(r"#.*", "", nats_config(objects))
    assert re.search(r"^jetstream\s*\{[^}]*store_dir:\s*\"/data\"", config, re.MULTILINE)
    routes = re.findall(r"\"nats://([\w.-]+):6222\"", config)
    assert routes == [f"nats-{i}.{spec['serviceName']}" for i in range(spec["replicas"])]
    assert re.search(r"^\s*name:\s*\"pulse\"", config, re.MULTILINE), "a cluster name"
    assert re.search(r"^server_name:\s*\$POD_NAME$", config, re.MULTILINE)
    container = spec["template"]["spec"]["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    (claim,) = spec["volumeClaimTemplates"]
    assert mounts["/data"] == claim["metadata"]["name"]
    # The JetStream store fits its volume, with room for the server's own files.
    store = size_in_bytes(env["NATS_MAX_FILE_STORE"]["value"])
    volume = size_in_bytes(claim["spec"]["resources"]["requests"]["storage"])
    assert store <= 0.95 * volume


def test_nats_has_the_users_and_permissions_of_deploy_nats(objects: list[Manifest]) -> None:
    ours = nats_config(objects)
    compose = (ROOT / "deploy" / "nats" / "nats.conf").read_text(encoding="utf-8")
    ours_users = NATS_USERS_MARKER.search(ours)
    compose_users = NATS_USERS_MARKER.search(compose)
    assert ours_users
    assert compose_users
    assert ours[ours_users.start() :] == compose[compose_users.start() :], (
        "deploy/k8s/base/nats/nats.conf's users differ from deploy/nats/nats.conf: copy them"
    )
    variables = set(re.findall(r"password:\s*\$(\w+)", re.sub(r"#.*", "", ours)))
    statefulset = of_kind(objects, "StatefulSet")["nats"]
    env = statefulset["spec"]["template"]["spec"]["containers"][0]["env"]
    given = {
        item["name"]: item["valueFrom"]["secretKeyRef"]
        for item in env
        if "secretKeyRef" in item.get("valueFrom", {})
    }
    assert set(given) == variables
    for variable, ref in given.items():
        assert (base_name(ref["name"]), ref["key"]) == ("pulse-nats-users", variable)


def test_nats_server_accepts_the_configuration(objects: list[Manifest], tmp_path: Path) -> None:
    binary = shutil.which("nats-server", path=str(Path(sys.executable).parent)) or shutil.which(
        "nats-server"
    )
    if binary is None:
        pytest.skip("nats-server binary not installed")
    conf = tmp_path / "nats.conf"
    conf.write_text(nats_config(objects), encoding="utf-8")
    container = of_kind(objects, "StatefulSet")["nats"]["spec"]["template"]["spec"]["containers"][0]
    env = {
        item["name"]: item.get("value") or f"test-{item['name'].lower()}"
        for item in container["env"]
    }
    env["POD_NAME"] = "nats-0"
    args = [
        tmp_path.joinpath("nats.conf").as_posix() if a == "/etc/nats/nats.conf" else a
        for a in container["args"]
    ]
    result = subprocess.run(
        [binary, *args, "-t"], capture_output=True, text=True, timeout=30, check=False, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    del env["PULSE_NATS_GATEWAY_PASSWORD"]  # without a password the server must not start
    result = subprocess.run(
        [binary, *args, "-t"], capture_output=True, text=True, timeout=30, check=False, env=env
    )
    assert result.returncode != 0


# --------------------------------------------------------------------------- database


def test_timescaledb_in_dev_only_with_the_roles_of_deploy_postgres(
    objects: list[Manifest], overlay: str
) -> None:
    statefulsets = of_kind(objects, "StatefulSet")
    if overlay == "production":
        assert "timescaledb" not in statefulsets, "production's database is external"
        return
    pod = statefulsets["timescaledb"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    init = of_kind(objects, "ConfigMap")
    for path, file in (
        ("/docker-entrypoint-initdb.d/10-pulse-roles.sh", "10-pulse-roles.sh"),
        ("/pulse/roles.sql", "roles.sql"),  # where 10-pulse-roles.sh runs it from
    ):
        mount = mounts[path]
        data = init[volumes[mount["name"]]["configMap"]["name"]]["data"]
        original = (ROOT / "deploy" / "postgres" / file).read_text(encoding="utf-8")
        assert data[mount["subPath"]] == original, f"{file} differs from deploy/postgres/{file}"
    script = (ROOT / "deploy" / "postgres" / "10-pulse-roles.sh").read_text(encoding="utf-8")
    required = set(re.findall(r"\$\{(PULSE_\w+):\?", script))
    env = {item["name"] for item in container["env"]}
    assert required
    assert required <= env
    assert "/pulse/roles.sql" in script


def test_component_copies_are_current() -> None:
    for file in ("roles.sql", "10-pulse-roles.sh"):
        copy_text = (K8S / "components" / "timescaledb" / file).read_bytes()
        assert copy_text == (ROOT / "deploy" / "postgres" / file).read_bytes(), file


# --------------------------------------------------------------------------- network


def local_endpoints(
    objects: list[Manifest], namespace: str
) -> dict[str, tuple[Endpoint, set[int]]]:
    """Every workload's pods as an endpoint, with the ports its containers listen on."""
    endpoints = {}
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            ports = {
                port["containerPort"]
                for container in containers(obj["spec"]["template"]["spec"])
                for port in container.get("ports", [])
            }
            endpoint = Endpoint(
                obj["metadata"]["name"],
                labels=pod_labels(obj),
                namespace_labels={"kubernetes.io/metadata.name": namespace},
            )
            endpoints[endpoint.name] = (endpoint, ports)
    return endpoints


OUTSIDE = [
    Endpoint(
        "ingress",
        namespace_labels={"kubernetes.io/metadata.name": "ingress-nginx", "pulse/ingress": "true"},
        local=False,
    ),
    Endpoint(
        "monitoring",
        namespace_labels={"kubernetes.io/metadata.name": "monitoring", "pulse/monitoring": "true"},
        local=False,
    ),
    Endpoint("elsewhere", namespace_labels={"kubernetes.io/metadata.name": "other"}, local=False),
]
DESTINATIONS_OUTSIDE = [
    (
        Endpoint(
            "kube-dns",
            labels={"k8s-app": "kube-dns"},
            namespace_labels={"kubernetes.io/metadata.name": "kube-system"},
            local=False,
        ),
        {53},
    ),
    (
        Endpoint(
            "other-dns",
            labels={"k8s-app": "kube-dns"},
            namespace_labels={"kubernetes.io/metadata.name": "other"},
            local=False,
        ),
        {53},
    ),
    (Endpoint("external-db", local=False, ip=EXTERNAL_DATABASE), {5432}),
    (Endpoint("internet", local=False, ip="203.0.113.7"), {443, 5432, 4222}),
]


def allowed_flows(objects: list[Manifest], namespace: str) -> set[tuple[str, str, int]]:
    policies = list(of_kind(objects, "NetworkPolicy").values())
    local = local_endpoints(objects, namespace)
    flows = set()
    sources = [endpoint for endpoint, _ in local.values()] + OUTSIDE
    targets = list(local.values()) + DESTINATIONS_OUTSIDE
    for source in sources:
        for target, ports in targets:
            if not (source.local or target.local):
                continue
            for port in ports:
                if allowed(policies, source, target, port):
                    flows.add((source.name, target.name, port))
    return flows


def designed_flows(objects: list[Manifest], overlay: str) -> set[tuple[str, str, int]]:
    database = "timescaledb" if overlay == "dev" else "external-db"
    flows = {("nats", "nats", 6222), ("monitoring", "nats", 8222)}
    for service in PULSE_SERVICES:
        public, management = default_ports(service)
        flows.add((service, "nats", 4222))
        flows.add(("monitoring", service, management))
        if public:
            flows.add(("ingress", service, public))
        if service in DATABASE_OWNERS:
            flows.add((service, database, 5432))
    for job in MIGRATION_JOBS:
        flows.add((job, database, 5432))
    for name in local_endpoints(objects, "pulse"):
        flows.add((name, "kube-dns", 53))
    return flows


def test_network_policies_allow_exactly_the_designed_traffic(
    objects: list[Manifest], overlay: str
) -> None:
    namespace = {"dev": "pulse-dev", "production": "pulse"}[overlay]
    allowed_now = allowed_flows(objects, namespace)
    designed = designed_flows(objects, overlay)
    assert (sorted(allowed_now - designed), sorted(designed - allowed_now)) == ([], [])


def test_every_workload_has_its_own_network_policy(objects: list[Manifest]) -> None:
    policies = of_kind(objects, "NetworkPolicy")
    default = policies["default-deny"]["spec"]
    assert default == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    own = {
        policy["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
        for policy in policies.values()
    }
    for kind in ("Deployment", "StatefulSet"):
        for name in of_kind(objects, kind):
            assert name in own, f"{kind}/{name} has no NetworkPolicy of its own"


def test_the_policy_evaluator_denies_and_allows() -> None:
    """The evaluator itself, on policies small enough to reason about by hand."""
    a = Endpoint("a", labels={"app": "a"})
    b = Endpoint("b", labels={"app": "b"})
    deny = {"spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
    assert allowed([], a, b, 80)
    assert not allowed([deny], a, b, 80)
    egress = {
        "spec": {
            "podSelector": {"matchLabels": {"app": "a"}},
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"podSelector": {"matchLabels": {"app": "b"}}}], "ports": [{"port": 80}]}
            ],
        }
    }
    ingress = {
        "spec": {
            "podSelector": {"matchLabels": {"app": "b"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}]}],
        }
    }
    assert not allowed([deny, egress], a, b, 80), "b's ingress is still denied"
    assert allowed([deny, egress, ingress], a, b, 80)
    assert not allowed([deny, egress, ingress], a, b, 81), "port"
    assert not allowed([deny, egress, ingress], b, a, 80), "direction"
    other_namespace = Endpoint("c", labels={"app": "a"}, local=False)
    assert not allowed([deny, egress, ingress], other_namespace, b, 80), (
        "podSelector alone is local"
    )
