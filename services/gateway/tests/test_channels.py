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


def test_event_feeds_are_for_admins() -> None:
    spec = parse_channel("events:class1")
    with pytest.raises(ChannelRefused) as refused:
        authorize(spec, "user")
    assert refused.value.code == "forbidden"
    with pytest.raises(ChannelRefused) as unavailable:
        authorize(spec, "admin")
    assert unavailable.value.code == "unavailable"


@pytest.mark.parametrize("channel", ["metric:cpu", "series:host-1:cpu", "source:host-1"])
def test_metric_channels_are_for_every_role_but_student(channel: str) -> None:
    spec = parse_channel(channel)
    for role in ("user", "instructor", "admin"):
        authorize(spec, role)
    with pytest.raises(ChannelRefused) as refused:
        authorize(spec, "student")
    assert refused.value.code == "forbidden"
    assert str(refused.value) == f"the student role may not watch {channel!r}"
