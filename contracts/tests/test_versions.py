"""Where a message's version lives, and why readers must learn a new version before writers
send it (docs/contracts.md, "Versions")."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import Counter
from typing import Any

import msgspec
import pulse_contracts
import pytest
from pulse_contracts import subjects
from pulse_contracts.versions import versioned_subject, versioned_tag

FORMATS = {"json": msgspec.json, "msgpack": msgspec.msgpack}


class NoteV1(msgspec.Struct, frozen=True, kw_only=True, tag=versioned_tag("note", 1)):
    text: str


class NoteV2(msgspec.Struct, frozen=True, kw_only=True, tag=versioned_tag("note", 2)):
    """A breaking change: ``text`` became a list of lines."""

    lines: list[str]


def upgraded(note: NoteV1 | NoteV2) -> NoteV2:
    """What a reader of both does at its edge: its handlers see only the newest shape."""
    match note:
        case NoteV1(text=text):
            return NoteV2(lines=text.splitlines())
        case NoteV2():
            return note


def test_a_tag_carries_its_version() -> None:
    assert versioned_tag("notification_created", 1) == "notification_created.v1"
    assert versioned_tag("login", 2) == "login.v2"  # the v2 of a message tagged before the rule


def test_an_untagged_message_keeps_its_subject_at_version_1_and_moves_later() -> None:
    stored = subjects.metrics_subject("sim", "cpu")
    assert versioned_subject(stored, 1) == "metrics.sim.cpu"
    assert versioned_subject(stored, 2) == "metrics.v2.sim.cpu"
    assert versioned_subject(subjects.INGEST_METRICS, 3) == "ingest.v3.metrics"
    # One token more: a live subscriber's metrics.*.cpu never matches the new version.
    assert len(versioned_subject(stored, 2).split(".")) == len(stored.split(".")) + 1


@pytest.mark.parametrize("version", [0, -1])
def test_versions_count_from_one(version: int) -> None:
    with pytest.raises(ValueError, match=f"a version counts from 1, not {version}"):
        versioned_tag("note", version)
    with pytest.raises(ValueError, match=f"a version counts from 1, not {version}"):
        versioned_subject("notes.a", version)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_reader_of_both_versions_reads_old_and_new_messages(fmt: str) -> None:
    module: Any = FORMATS[fmt]
    reader = module.Decoder(NoteV1 | NoteV2)
    old, new = module.encode(NoteV1(text="a\nb")), module.encode(NoteV2(lines=["c"]))
    assert [upgraded(reader.decode(data)) for data in (old, new)] == [
        NoteV2(lines=["a", "b"]),
        NoteV2(lines=["c"]),
    ]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_reader_of_the_old_version_refuses_the_new_one(fmt: str) -> None:
    """Why readers go first: a message of a version it does not know is refused outright."""
    module: Any = FORMATS[fmt]
    old_reader = module.Decoder(NoteV1)
    with pytest.raises(msgspec.ValidationError) as refused:
        old_reader.decode(module.encode(NoteV2(lines=["c"])))
    assert str(refused.value) == "Invalid value 'note.v2' - at `$.type`"


def wire_tags() -> list[str | int]:
    """The tag of every tagged Struct in the contracts (msgspec allows str or int tags)."""
    tags: list[str | int] = []
    for module in pkgutil.walk_packages(pulse_contracts.__path__, "pulse_contracts."):
        for _, struct in inspect.getmembers(importlib.import_module(module.name)):
            if (
                inspect.isclass(struct)
                and issubclass(struct, msgspec.Struct)
                and struct.__module__ == module.name
                and struct.__struct_config__.tag is not None
            ):
                tags.append(struct.__struct_config__.tag)
    return tags


def test_every_message_tag_is_one_domain_s_own() -> None:
    """Each new domain's tags (versioned) must not collide with another's: a reader decoding
    a union over domains could not tell the messages apart."""
    tags = wire_tags()
    assert {"login", "metrics_query", "error"} <= set(tags)
    assert [tag for tag, count in Counter(tags).items() if count > 1] == []
