"""Notebook events: what ingest accepts and every refusal with its reason, JSON and msgpack
alike (the one validation path of ``POST /api/v1/events`` and ``ingest.events``)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest
from pulse_contracts import MSGPACK
from pulse_contracts.classroom import ClassEvents
from pulse_ingest.classroom.validation import (
    EventsValidator,
    InvalidEvents,
    TooManyEvents,
    without_code,
)
from pulse_ingest.validation import ItemError

FORMATS = ["json", "msgpack"]
VALIDATOR = EventsValidator()


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "eventId": str(uuid.uuid4()),
        "eventType": "cell_executed",
        "eventTime": "2026-12-05T09:00:00Z",
        "userId": "ada@example.org",
        "classId": "py101",
        "notebookPath": "week1.ipynb",
        "cellId": "c1",
        "cellIndex": 0,
        "code": "1 / 0",
        "hasError": True,
        "errorName": "ZeroDivisionError",
        "errorMessage": "division by zero",
        "executionDurationMs": 3.5,
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def encoded(payload: Any, fmt: str) -> tuple[bytes, str | None]:
    if fmt == "msgpack":
        return msgspec.msgpack.encode(payload), MSGPACK
    return msgspec.json.encode(payload), None


def validate(payload: Any, fmt: str, class_id: str | None = None) -> list[ClassEvents]:
    data, content_type = encoded(payload, fmt)
    return VALIDATOR.validate(data, content_type, class_id=class_id)


def refusal(payload: Any, fmt: str, class_id: str | None = None) -> InvalidEvents:
    with pytest.raises(InvalidEvents) as refused:
        validate(payload, fmt, class_id)
    return refused.value


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_event_or_a_batch_grouped_by_class(fmt: str) -> None:
    [one] = validate(event(), fmt)
    assert one.class_id == "py101"
    assert one.events[0].error_message == "division by zero"
    batch = [event(), event(classId="chem-2"), event(eventType="notebook_opened", cellId=None)]
    grouped = validate(batch, fmt)
    assert [(b.class_id, len(b.events)) for b in grouped] == [("py101", 2), ("chem-2", 1)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_event_types_are_accepted_raw(fmt: str) -> None:
    [batch] = validate(event(eventType="widget_clicked", cellIndex=None, metadata={"a": 1}), fmt)
    assert batch.events[0].event_type == "widget_clicked"
    assert batch.events[0].metadata == {"a": 1}


@pytest.mark.parametrize("fmt", FORMATS)
def test_over_http_the_keys_class_is_the_events_class(fmt: str) -> None:
    [batch] = validate([event(classId=None), event()], fmt, class_id="py101")
    assert {e.class_id for e in batch.events} == {"py101"}
    refused = refusal([event(), event(classId="chem-2")], fmt, class_id="py101")
    assert str(refused) == "event 1: classId must be the API key's class 'py101', not 'chem-2'"
    assert refused.errors == [
        ItemError(
            index=1, field="classId", reason="must be the API key's class 'py101', not 'chem-2'"
        )
    ]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"eventId": None}, None, "Object missing required field `eventId`"),
        ({"eventId": "not-a-uuid"}, "eventId", "Invalid UUID"),
        (
            {"eventTime": "2026-12-05T09:00:00"},
            "eventTime",
            "Expected `datetime` with a timezone component",
        ),
        ({"errorMessage": "x" * 2001}, "errorMessage", "Expected `str` of length <= 2000"),
        ({"eventType": "Cell Executed"}, "eventType", None),
        ({"classId": "Py 101"}, "classId", None),
        ({"userId": "a\u0000b"}, "userId", "Expected `str` without NUL (U+0000)"),
    ],
    ids=["missing-id", "bad-uuid", "naive-time", "long-error", "bad-type", "bad-class", "nul"],
)
def test_events_the_contract_refuses(
    fmt: str, change: dict[str, Any], field: str | None, reason: str | None
) -> None:
    if fmt == "msgpack" and field == "eventTime":
        change = {"eventTime": "2026-12-05T09:00:00"}  # a string in msgpack too
    refused = refusal([event(), event(**change)], fmt)
    [error] = refused.errors
    assert (error.index, error.field) == (1, field)
    if reason is not None:
        assert error.reason == reason
    assert str(refused).startswith("invalid event: ")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "field",
    ["userId", "notebookPath", "cellId", "cellType", "code", "errorName", "errorMessage"],
)
def test_a_nul_in_any_stored_text_is_refused_naming_its_field(fmt: str, field: str) -> None:
    refused = refusal([event(), event(), event(**{field: "be\u0000fore"})], fmt)
    assert refused.errors == [
        ItemError(index=2, field=field, reason="Expected `str` without NUL (U+0000)")
    ]
    assert str(refused) == (
        f"invalid event: Expected `str` without NUL (U+0000) - at `$[2].{field}`"
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_nul_in_a_metadata_key_is_refused(fmt: str) -> None:
    refused = refusal(event(metadata={"a\u0000": 1}), fmt)
    assert refused.errors == [
        ItemError(
            index=0, field="metadata", reason="Expected `str` without NUL (U+0000) (in a key)"
        )
    ]
    assert str(refused).endswith("- at `$.metadata`")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "change",
    [{"classId": "py101\n"}, {"classId": "-py"}, {"eventType": "cell_executed\n"}],
    ids=["class-newline", "class-dash", "type-newline"],
)
def test_a_trailing_newline_or_a_leading_dash_is_no_slug(fmt: str, change: dict[str, str]) -> None:
    """A class id becomes a NATS subject token: the whole text must match, not a prefix."""
    [error] = refusal([event(**change)], fmt).errors
    assert error.field == next(iter(change))
    assert error.reason.startswith("Expected `str` matching regex")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_bad_event_is_named_when_some_fail_to_decode_and_others_break_a_pattern(
    fmt: str,
) -> None:
    refused = refusal([event(eventId="nope"), event(), event(userId="a\u0000")], fmt)
    assert [(e.index, e.field) for e in refused.errors] == [(0, "eventId"), (2, "userId")]
    assert str(refused) == "invalid event: Invalid UUID - at `$[0].eventId` (and 1 more bad events)"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_class_id_or_event_type_too_long_is_refused_before_any_pattern(fmt: str) -> None:
    """refusal() caches class ids by their text: the decoder bounds how long one may be."""
    [error] = refusal([event(classId="a" * 64)], fmt).errors
    assert (error.field, error.reason) == ("classId", "Expected `str` of length <= 63")
    [error] = refusal([event(eventType="a" * 65)], fmt).errors
    assert (error.field, error.reason) == ("eventType", "Expected `str` of length <= 64")


def test_a_json_escape_that_is_no_nul_is_accepted() -> None:
    """A backslash before 'u0000' in the text is no NUL (the fast check only suspects it)."""
    [batch] = validate([event(code="print('\\\\u0000')")], "json")
    assert batch.events[0].code == "print('\\\\u0000')"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("missing", ["notebookPath", "cellId", "cellIndex"])
def test_cell_executed_needs_its_cell(fmt: str, missing: str) -> None:
    refused = refusal([event(**{missing: None})], fmt)
    assert refused.errors == [
        ItemError(index=0, field=missing, reason="is required for cell_executed")
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_on_nats_every_event_names_its_class(fmt: str) -> None:
    refused = refusal([event(), event(classId=None), event(classId=None)], fmt)
    assert str(refused) == (
        "event 1: classId is required on NATS (the class the event belongs to)"
        " (and 1 more bad events)"
    )
    assert [error.index for error in refused.errors] == [1, 2]


@pytest.mark.parametrize("fmt", FORMATS)
def test_metadata_is_bounded_and_storable(fmt: str) -> None:
    assert validate(event(metadata={"k": "x" * 4000}), fmt)
    big = refusal(event(metadata={"k": "x" * 4100}), fmt)
    assert big.errors == [
        ItemError(index=0, field="metadata", reason="is 4108 bytes as JSON, over the limit of 4096")
    ]
    nul = refusal(event(metadata={"k": "a\u0000"}), fmt)
    assert nul.errors[0].reason == "holds a NUL (U+0000), which jsonb cannot store"
    many = refusal(event(metadata={str(i): i for i in range(65)}), fmt)
    assert many.errors[0].field == "metadata"


@pytest.mark.parametrize("fmt", FORMATS)
def test_batch_size(fmt: str) -> None:
    empty = refusal([], fmt)
    assert (str(empty), empty.errors) == ("empty batch: send at least one event", [])
    assert len(validate([event() for _ in range(100)], fmt)[0].events) == 100
    with pytest.raises(TooManyEvents, match="batch of 101 events exceeds the limit of 100"):
        validate([event() for _ in range(101)], fmt)


def test_malformed_input() -> None:
    with pytest.raises(InvalidEvents, match=r"^malformed JSON: "):
        VALIDATOR.validate(b"[{", None)
    with pytest.raises(InvalidEvents, match=r"^malformed msgpack: "):
        VALIDATOR.validate(b"\xc1", MSGPACK)


def test_code_is_dropped_for_a_class_that_does_not_collect_it() -> None:
    [batch] = validate([event(), event(code=None)], "json")
    assert [e.code for e in without_code(batch).events] == [None, None]
    assert [e.code for e in batch.events] == ["1 / 0", None]
