"""Channel names, the subjects behind them, and who may watch them."""

from __future__ import annotations

import pytest
from pulse_gateway.live.channels import ChannelRefused, authorize, parse_channel


@pytest.mark.parametrize(
    ("channel", "subject"),
    [
        ("metric:cpu", "metrics.*.cpu"),
        ("series:web1:cpu", "metrics.web1.cpu"),
        ("source:web1", "metrics.web1.*"),
    ],
)
def test_channels_map_to_stream_subjects(channel: str, subject: str) -> None:
    spec = parse_channel(channel)
    assert spec.subject == subject
    authorize(spec, "user")


@pytest.mark.parametrize("channel", ["cpu", "metric:", "metric:a.b", "series:a", "metric:>", "x:y"])
def test_bad_channels_are_refused(channel: str) -> None:
    with pytest.raises(ChannelRefused) as refused:
        parse_channel(channel)
    assert refused.value.code == "unknown_channel"


@pytest.mark.parametrize("channel", ["class:py101", "class:2026-spring-a", "class:x"])
def test_class_channels_read_the_class_events_in_the_events_stream(channel: str) -> None:
    spec = parse_channel(channel)
    class_id = channel.removeprefix("class:")
    assert (spec.subject, spec.class_id, spec.feed.stream) == (
        f"events.{class_id}",
        class_id,
        "EVENTS",
    )
    assert parse_channel("metric:cpu").feed.stream == "METRICS"


@pytest.mark.parametrize(
    "channel",
    ["class:", "class:Py101", "class:-a", "class:a.b", "class:a:b", "class:>", "class:" + "a" * 64],
)
def test_class_ids_are_slugs(channel: str) -> None:
    with pytest.raises(ChannelRefused) as refused:
        parse_channel(channel)
    assert refused.value.code == "unknown_channel"


@pytest.mark.parametrize(
    ("channel", "allowed"),
    [
        ("metric:cpu", {"admin", "user", "instructor"}),
        ("series:web1:cpu", {"admin", "user", "instructor"}),
        ("source:web1", {"admin", "user", "instructor"}),
        ("class:py101", {"admin", "instructor"}),  # an instructor: only a class they own
    ],
)
def test_which_roles_may_ask_for_which_channel(channel: str, allowed: set[str]) -> None:
    spec = parse_channel(channel)
    for role in ("admin", "user", "instructor", "student"):
        if role in allowed:
            authorize(spec, role)
            continue
        with pytest.raises(ChannelRefused) as refused:
            authorize(spec, role)
        assert refused.value.code == "forbidden", (channel, role)


def test_the_old_events_placeholder_is_gone() -> None:
    with pytest.raises(ChannelRefused) as refused:
        parse_channel("events:class1")
    assert refused.value.code == "unknown_channel"


@pytest.mark.parametrize("role", ["user", "instructor", "student"])
def test_the_logs_channel_is_the_admins_alone(role: str) -> None:
    spec = parse_channel("logs", "some-user")
    assert (spec.subject, spec.feed.stream, spec.shared_as) == ("logs.*.*", "LOGS", "logs")
    authorize(spec, "admin")
    with pytest.raises(ChannelRefused) as refused:
        authorize(spec, role)
    assert refused.value.code == "forbidden"
    assert str(refused.value) == f"the {role} role may not watch 'logs'"
