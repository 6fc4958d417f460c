from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Literal

import msgspec
import pytest
from pulse_auth.settings import Settings as AuthSettings
from pulse_gateway.settings import Settings as GatewaySettings
from pulse_persistence.settings import Settings as PersistenceSettings
from pulse_runtime.settings import (
    CommonSettings,
    DatabaseSettings,
    EdgeListenerSettings,
    ListenerSettings,
    Port,
    PositiveInt,
    SettingsError,
    load_service_settings,
    load_settings,
    settings_or_exit,
)


class Example(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    port: Port = 8000
    batch_size: PositiveInt = 500
    ratio: float = 0.5
    enabled: bool = False
    mode: Literal["a", "b"] = "a"
    origins: list[str] = msgspec.field(default_factory=list)


def test_defaults_when_nothing_is_set() -> None:
    assert load_settings(Example, "PULSE_X_", {}) == Example()


def test_values_are_converted_from_strings() -> None:
    environ = {
        "PULSE_X_PORT": "9000",
        "PULSE_X_RATIO": "1.5",
        "PULSE_X_ENABLED": "true",
        "PULSE_X_MODE": "b",
        "PULSE_X_ORIGINS": "http://a, http://b",
        "PULSE_OTHER": "ignored",
    }
    assert load_settings(Example, "PULSE_X_", environ) == Example(
        port=9000, ratio=1.5, enabled=True, mode="b", origins=["http://a", "http://b"]
    )


def test_empty_value_means_default() -> None:
    assert load_settings(Example, "PULSE_X_", {"PULSE_X_PORT": ""}).port == 8000


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PULSE_X_PORT", "eighty", "PULSE_X_PORT='eighty' is not valid: Expected `int`, got `str`"),
        (
            "PULSE_X_ENABLED",
            "maybe",
            "PULSE_X_ENABLED='maybe' is not valid: Expected `bool`, got `str`",
        ),
        ("PULSE_X_MODE", "c", "PULSE_X_MODE='c' is not valid: Invalid enum value 'c'"),
        ("PULSE_X_PORT", "99999", "PULSE_X_PORT='99999' is not valid: Expected `int` <= 65535"),
        ("PULSE_X_PORT", "0", "PULSE_X_PORT='0' is not valid: Expected `int` >= 1"),
        (
            "PULSE_X_BATCH_SIZE",
            "-5",
            "PULSE_X_BATCH_SIZE='-5' is not valid: Expected `int` >= 1",
        ),
    ],
)
def test_a_wrong_value_names_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(Example, "PULSE_X_", {variable: value})
    assert str(raised.value) == message


def test_settings_are_frozen() -> None:
    settings = load_settings(CommonSettings, "PULSE_", {"PULSE_NATS_URL": "nats://n:4222"})
    assert settings.nats_url == "nats://n:4222"
    with pytest.raises(AttributeError):
        settings.nats_url = "x"  # type: ignore[misc]


def test_range_limits_are_inclusive() -> None:
    environ = {"PULSE_X_PORT": "65535", "PULSE_X_BATCH_SIZE": "1"}
    assert load_settings(Example, "PULSE_X_", environ) == Example(port=65535, batch_size=1)


def test_service_settings_are_range_checked() -> None:
    with pytest.raises(SettingsError) as raised:
        GatewaySettings.from_environ({"PULSE_GATEWAY_PORT": "99999"})
    assert str(raised.value) == "PULSE_GATEWAY_PORT='99999' is not valid: Expected `int` <= 65535"
    with pytest.raises(SettingsError) as raised:
        PersistenceSettings.from_environ({"PULSE_PERSISTENCE_BATCH_SIZE": "-5"})
    assert str(raised.value) == (
        "PULSE_PERSISTENCE_BATCH_SIZE='-5' is not valid: Expected `int` >= 1"
    )


@pytest.mark.parametrize(
    ("read", "environ", "message"),
    [
        (
            PersistenceSettings.from_environ,
            {"PULSE_STREAM_MAX_AGE_S": "60"},
            "PULSE_STREAM_DUPLICATE_WINDOW_S=120 is longer than PULSE_STREAM_MAX_AGE_S=60:"
            " a message cannot be remembered for longer than it is kept",
        ),
        (
            PersistenceSettings.from_environ,
            {"PULSE_DEADLETTER_MAX_AGE_S": "30", "PULSE_STREAM_DUPLICATE_WINDOW_S": "60"},
            "PULSE_STREAM_DUPLICATE_WINDOW_S=60 is longer than PULSE_DEADLETTER_MAX_AGE_S=30:"
            " a message cannot be remembered for longer than it is kept",
        ),
        (
            PersistenceSettings.from_environ,
            {"PULSE_PERSISTENCE_POOL_SIZE": "4", "PULSE_PERSISTENCE_WRITERS": "4"},
            "PULSE_PERSISTENCE_POOL_SIZE=4 leaves no connection for history queries beside"
            " PULSE_PERSISTENCE_WRITERS=4 writers: make it at least 5",
        ),
        (
            AuthSettings.from_environ,
            {"PULSE_AUTH_LOGIN_BASE_DELAY_S": "60", "PULSE_AUTH_LOGIN_MAX_DELAY_S": "10"},
            "PULSE_AUTH_LOGIN_MAX_DELAY_S=10 is below PULSE_AUTH_LOGIN_BASE_DELAY_S=60:"
            " the delay grows from the base up to the maximum",
        ),
    ],
)
def test_rules_between_settings_name_both_variables(
    read: Callable[[Mapping[str, str]], object], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        read(environ)
    assert str(refused.value) == message


def test_related_settings_that_agree_are_accepted() -> None:
    """No max age (0) bounds no duplicate window; equal delays and one spare connection pass."""
    PersistenceSettings.from_environ(
        {
            "PULSE_STREAM_MAX_AGE_S": "0",
            "PULSE_STREAM_DUPLICATE_WINDOW_S": "600",
            "PULSE_PERSISTENCE_POOL_SIZE": "3",
            "PULSE_PERSISTENCE_WRITERS": "2",
        }
    )
    AuthSettings.from_environ(
        {"PULSE_AUTH_LOGIN_BASE_DELAY_S": "5", "PULSE_AUTH_LOGIN_MAX_DELAY_S": "5"}
    )


def test_settings_or_exit_prints_one_line_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    def read(environ: Mapping[str, str]) -> Example:
        return load_settings(Example, "PULSE_X_", environ)

    assert settings_or_exit(read, {"PULSE_X_PORT": "9000"}) == Example(port=9000)
    with pytest.raises(SystemExit) as raised:
        settings_or_exit(read, {"PULSE_X_PORT": "99999"})
    assert raised.value.code == 2
    assert capsys.readouterr().err == (
        "PULSE_X_PORT='99999' is not valid: Expected `int` <= 65535\n"
    )


def test_a_service_with_a_wrong_setting_exits_2_with_one_line() -> None:
    """The real entry point: no traceback, no logging set up, nothing started."""
    inherited = os.environ.items()  # noqa: TID251 - PATH and the like for the child
    environ = {key: value for key, value in inherited if not key.startswith("PULSE_")}
    environ["PULSE_GENERATOR_PORT"] = "99999"
    result = subprocess.run(
        [sys.executable, "-m", "pulse_generator"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == "PULSE_GENERATOR_PORT='99999' is not valid: Expected `int` <= 65535\n"
    assert "Traceback" not in result.stdout + result.stderr


class Listening(ListenerSettings, frozen=True, kw_only=True):
    port: Port = 8100


class Edge(EdgeListenerSettings, frozen=True, kw_only=True):
    port: Port = 8101
    metrics_port: Port = 8102


class ServiceSettings(msgspec.Struct, frozen=True, kw_only=True):
    common: CommonSettings
    own: Listening
    edge: Edge
    database: DatabaseSettings


def test_a_service_reads_its_sections_from_their_prefixes_and_the_shared_ones_from_theirs() -> None:
    environ = {
        "PULSE_NATS_URL": "nats://n:4222",
        "PULSE_DATABASE_URL": "postgresql://d/pulse",
        "PULSE_OWN_HOST": "0.0.0.0",
        "PULSE_EDGE_METRICS_PORT": "9102",
    }
    settings = load_service_settings(ServiceSettings, environ, own="PULSE_OWN_", edge="PULSE_EDGE_")
    assert settings == ServiceSettings(
        common=CommonSettings(nats_url="nats://n:4222"),
        own=Listening(host="0.0.0.0"),
        edge=Edge(metrics_port=9102),
        database=DatabaseSettings(url="postgresql://d/pulse"),
    )


def test_a_section_without_a_prefix_is_a_mistake_in_the_code() -> None:
    with pytest.raises(TypeError, match=r"no prefix for ServiceSettings\.edge"):
        load_service_settings(ServiceSettings, {}, own="PULSE_OWN_")


def test_the_management_listener_is_a_workers_own_port_and_an_edges_metrics_port() -> None:
    assert Listening().management == ("127.0.0.1", 8100)
    assert Edge(metrics_host="10.0.0.2").management == ("10.0.0.2", 8102)


def test_every_listener_port_is_range_checked_under_its_services_prefix() -> None:
    with pytest.raises(SettingsError, match=r"PULSE_EDGE_METRICS_PORT='0' is not valid"):
        load_settings(Edge, "PULSE_EDGE_", {"PULSE_EDGE_METRICS_PORT": "0"})


def test_several_nats_urls_are_the_clients_server_list() -> None:
    common = load_settings(
        CommonSettings,
        "PULSE_",
        {"PULSE_NATS_URL": "nats://10.0.0.1:4222, nats://10.0.0.2:4222,nats://10.0.0.3:4222"},
    )
    assert common.nats_servers == [
        "nats://10.0.0.1:4222",
        "nats://10.0.0.2:4222",
        "nats://10.0.0.3:4222",
    ]
    assert CommonSettings().nats_servers == ["nats://127.0.0.1:4222"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "PULSE_STREAM_REPLICAS='0' is not valid: Expected `int` >= 1"),
        ("6", "PULSE_STREAM_REPLICAS='6' is not valid: Expected `int` <= 5"),
    ],
)
def test_stream_replicas_are_what_jetstream_allows(value: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(CommonSettings, "PULSE_", {"PULSE_STREAM_REPLICAS": value})
    assert str(raised.value) == message
    replicas = load_settings(CommonSettings, "PULSE_", {"PULSE_STREAM_REPLICAS": "3"})
    assert replicas.stream_replicas == 3
