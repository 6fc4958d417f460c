"""Pulse's streams on a real nats-server: limits from settings, created once, updated in place."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import DiscardPolicy, StorageType, StreamInfo
from nats.js.client import JetStreamContext
from pulse_contracts import subjects
from pulse_dev.embedded import EmbeddedNats
from pulse_runtime.settings import CommonSettings
from pulse_runtime.streams import ensure_streams, pulse_streams

pytestmark = pytest.mark.integration

# Every limit differs from the defaults, so a stream built from defaults would not pass.
SETTINGS = CommonSettings(
    stream_max_age_s=3600.0,
    stream_max_bytes=8 << 20,
    stream_duplicate_window_s=30.0,
    deadletter_max_age_s=7200.0,
)
CHANGED = CommonSettings(
    stream_max_age_s=5400.0,
    stream_max_bytes=16 << 20,
    stream_duplicate_window_s=45.0,
    deadletter_max_age_s=10800.0,
)


@pytest.fixture
async def connection(nats_server: EmbeddedNats) -> AsyncIterator[Client]:
    nc = await nats.connect(nats_server.url, max_reconnect_attempts=0)
    try:
        yield nc
    finally:
        await nc.close()


async def streams(js: JetStreamContext) -> dict[str, StreamInfo]:
    names = (
        subjects.METRICS_STREAM,
        subjects.EVENTS_STREAM,
        subjects.DEADLETTER_STREAM,
        subjects.NOTIFICATIONS_STREAM,
    )
    return {name: await js.stream_info(name) for name in names}


def assert_limits(found: dict[str, StreamInfo], common: CommonSettings) -> None:
    metrics = found[subjects.METRICS_STREAM].config
    events = found[subjects.EVENTS_STREAM].config
    deadletter = found[subjects.DEADLETTER_STREAM].config
    assert metrics.subjects == [subjects.METRICS_SUBJECTS]
    assert events.subjects == [subjects.EVENTS_SUBJECTS]
    assert deadletter.subjects == [subjects.DEADLETTER_SUBJECTS]
    assert metrics.max_age == common.stream_max_age_s
    assert events.max_age == common.stream_max_age_s
    assert deadletter.max_age == common.deadletter_max_age_s
    for config in (metrics, events, deadletter):
        assert config.max_bytes == common.stream_max_bytes
        assert config.duplicate_window == common.stream_duplicate_window_s
        assert config.storage == StorageType.FILE
        assert config.discard == DiscardPolicy.OLD
        assert config.num_replicas == common.stream_replicas == 1  # one node (R3: tests/cluster)
    assert metrics.republish is not None
    assert metrics.republish.src == subjects.METRICS_SUBJECTS
    assert metrics.republish.dest == subjects.live_subject(subjects.METRICS_SUBJECTS)
    # A class's events are watched live too (the gateway's class:<id> channel).
    assert events.republish is not None
    assert events.republish.src == subjects.EVENTS_SUBJECTS
    assert events.republish.dest == subjects.live_subject(subjects.EVENTS_SUBJECTS)
    assert deadletter.republish is None
    notifications = found[subjects.NOTIFICATIONS_STREAM].config
    assert notifications.republish is not None
    assert notifications.republish.src == "notifications.*"
    assert notifications.republish.dest == "live.notifications.{{wildcard(1)}}"


async def test_a_stream_of_one_token_per_subject_is_republished_live(connection: Client) -> None:
    """nats-server refuses a ``*`` in a republish destination: NOTIFICATIONS (one subject per
    user) names its wildcard, and a message on notifications.<user> reaches
    live.notifications.<user>."""
    js = connection.jetstream()
    await ensure_streams(js, pulse_streams(SETTINGS))
    live = await connection.subscribe("live.notifications.>")
    await js.publish(subjects.notifications_subject("u-1"), b"change")
    message = await live.next_msg(timeout=5)
    assert (message.subject, message.data) == ("live.notifications.u-1", b"change")


async def test_streams_are_created_with_the_limits_from_settings(connection: Client) -> None:
    js = connection.jetstream()
    await ensure_streams(js, pulse_streams(SETTINGS))
    assert_limits(await streams(js), SETTINGS)


async def test_ensuring_the_same_streams_again_changes_nothing(connection: Client) -> None:
    js = connection.jetstream()
    await ensure_streams(js, pulse_streams(SETTINGS))
    await js.publish(subjects.metrics_subject("s", "n"), b"kept", stream=subjects.METRICS_STREAM)
    before = await streams(js)

    await ensure_streams(js, pulse_streams(SETTINGS))  # a restart, or a second replica
    await ensure_streams(js, pulse_streams(SETTINGS))

    after = await streams(js)
    assert_limits(after, SETTINGS)
    for name, info in after.items():
        assert info.config == before[name].config
        assert info.created == before[name].created, f"{name} was created anew"
    assert after[subjects.METRICS_STREAM].state.messages == 1


async def test_changed_settings_update_the_existing_streams_in_place(connection: Client) -> None:
    js = connection.jetstream()
    await ensure_streams(js, pulse_streams(SETTINGS))
    await js.publish(subjects.metrics_subject("s", "n"), b"kept", stream=subjects.METRICS_STREAM)
    before = await streams(js)

    await ensure_streams(js, pulse_streams(CHANGED))

    after = await streams(js)
    assert_limits(after, CHANGED)
    for name, info in after.items():
        assert info.created == before[name].created, f"{name} was created anew"
    assert after[subjects.METRICS_STREAM].state.messages == 1  # updated, not replaced


async def test_the_duplicate_window_from_settings_drops_a_repeated_message_id(
    connection: Client,
) -> None:
    js = connection.jetstream()
    await ensure_streams(js, pulse_streams(SETTINGS))
    subject = subjects.metrics_subject("s", "n")
    first = await js.publish(subject, b"a", headers={"Nats-Msg-Id": "one"})
    again = await js.publish(subject, b"a", headers={"Nats-Msg-Id": "one"})
    assert (first.duplicate, again.duplicate) == (None, True)
    assert again.seq == first.seq
    assert (await js.stream_info(subjects.METRICS_STREAM)).state.messages == 1
