"""The notifier's logic apart from servers: the outbox's waves, marks and the count, pages,
recipients, settings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pulse_contracts.accounts import User
from pulse_contracts.notifications import Notification, Recipients
from pulse_notifier.inbox.rules import MARK_RULES, STATE_FILTERS, cut_page, unread_step
from pulse_notifier.outbox import OutboxRow, message_id, publish_in_waves, waves
from pulse_notifier.recipients import enabled_ids, names_nobody, unknown_ids
from pulse_notifier.settings import Settings
from pulse_runtime.settings import SettingsError
from pulse_runtime.streams import republished_tokens

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def row(row_id: int, user: str) -> OutboxRow:
    return OutboxRow(row_id, f"notifications.{user}", f"{row_id}".encode())


def test_a_wave_holds_one_row_per_user_and_a_users_rows_follow_in_id_order() -> None:
    rows = [row(1, "a"), row(2, "a"), row(3, "b"), row(4, "a"), row(5, "c"), row(6, "b")]
    assert [[r.id for r in wave] for wave in waves(rows)] == [[1, 3, 5], [2, 6], [4]]
    assert waves([]) == []


def test_ten_thousand_users_go_in_one_wave() -> None:
    rows = [row(n, f"u{n}") for n in range(1, 10_001)]
    assert len(waves(rows)) == 1


async def test_a_failed_publish_ends_the_pass_before_that_users_next_row() -> None:
    sent: list[tuple[str, str]] = []

    async def publish(subject: str, payload: bytes, headers: dict[str, str]) -> object:
        sent.append((subject, headers["Nats-Msg-Id"]))
        await asyncio.sleep(0)
        if headers["Nats-Msg-Id"] == "notify-3":
            raise TimeoutError("no ack")
        return None

    rows = [row(1, "a"), row(2, "a"), row(3, "b"), row(4, "b"), row(5, "c")]
    acked, complete = await publish_in_waves(rows, publish)
    assert not complete
    # The first wave went out whole; b's row 3 failed, so nothing after it was sent.
    assert sorted(acked) == [1, 5]
    assert [message for _, message in sent] == ["notify-1", "notify-3", "notify-5"]


async def test_every_row_acknowledged_completes_the_pass() -> None:
    async def publish(subject: str, payload: bytes, headers: dict[str, str]) -> object:
        return None

    rows = [row(1, "a"), row(2, "a"), row(3, "b")]
    assert await publish_in_waves(rows, publish) == ([1, 3, 2], True)
    assert message_id(42) == "notify-42"


@pytest.mark.parametrize(
    ("change", "counted", "step"),
    [
        ("read", [True, False, True], -2),  # archived ones were not counted
        ("unread", [True, True], 2),
        ("seen", [False, False], 0),
        ("archived", [True, False], -1),  # archiving a read one leaves the count
    ],
)
def test_what_a_mark_does_to_the_unread_count(change: str, counted: list[bool], step: int) -> None:
    assert unread_step(change, counted) == step  # type: ignore[arg-type]


def test_every_mark_and_state_has_its_sql() -> None:
    assert set(MARK_RULES) == {"read", "unread", "seen", "archived"}
    assert set(STATE_FILTERS) == {"unread", "read", "archived", "all"}


def notification(notification_id: int) -> Notification:
    return Notification(
        id=notification_id,
        recipient="u",
        kind="info",
        title="t",
        body="",
        link=None,
        source="admin",
        created_at=NOW,
    )


def test_a_page_ends_where_nothing_older_is_left() -> None:
    items = [notification(n) for n in (9, 7, 5)]
    assert cut_page(items, 2) == (items[:2], 7)
    assert cut_page(items, 3) == (items, None)
    assert cut_page([], 3) == ([], None)


def user(user_id: str, *, disabled: bool = False) -> User:
    return User(
        id=user_id,
        email=f"{user_id}@x",
        role="user",
        disabled=disabled,
        created_at=NOW,
        updated_at=NOW,
    )


def test_recipients_named_unknown_and_disabled() -> None:
    assert names_nobody(Recipients())
    assert not names_nobody(Recipients(everyone=True))
    assert not names_nobody(Recipients(roles=["student"]))
    found = [user("a"), user("b", disabled=True)]
    assert unknown_ids(["a", "x", "b", "x"], found) == ["x"]
    assert enabled_ids(found) == {"a"}


def test_settings_from_the_environment() -> None:
    settings = Settings.from_environ(
        {"PULSE_NOTIFIER_READ_RETENTION_DAYS": "0", "PULSE_NOTIFIER_OUTBOX_BATCH": "500"}
    )
    assert settings.notifier.port == 8007
    assert settings.notifier.read_retention_days == 0
    assert settings.notifier.outbox_batch == 500
    with pytest.raises(SettingsError, match="PULSE_NOTIFIER_DIRECTORY_PAGE"):
        Settings.from_environ({"PULSE_NOTIFIER_DIRECTORY_PAGE": "100000"})
    with pytest.raises(SettingsError, match="PULSE_NOTIFIER_ARCHIVED_RETENTION_DAYS"):
        Settings.from_environ({"PULSE_NOTIFIER_ARCHIVED_RETENTION_DAYS": "-1"})


def test_a_republish_destination_names_its_single_token_wildcards() -> None:
    assert republished_tokens("notifications.*") == "notifications.{{wildcard(1)}}"
    assert republished_tokens("metrics.>") == "metrics.>"
    assert republished_tokens("a.*.b.*") == "a.{{wildcard(1)}}.b.{{wildcard(2)}}"
