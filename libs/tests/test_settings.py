from __future__ import annotations

from typing import Literal

import msgspec
import pytest
from pulse_runtime.settings import CommonSettings, SettingsError, load_settings


class Example(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    port: int = 8000
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
