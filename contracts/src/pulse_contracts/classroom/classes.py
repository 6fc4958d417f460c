"""Classes: created by instructors (and admins), each with its producer key and its privacy
settings; asked over ``rpc.classroom.<verb>`` of persistence, which owns the classroom schema.

Who sees a class: admins every class; an instructor the classes they own; a student only their
own timeline, in the classes whose events carry their id (their email, or its pseudonym under
the class's salt). docs/classroom.md and ADR 0023 say why.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Annotated

import msgspec

from pulse_contracts.rpc import RpcError
from pulse_contracts.text import STORABLE, StoredText

from .events import ClassId

ClassTitle = Annotated[str, msgspec.Meta(min_length=1, max_length=200), STORABLE]
PlannedCells = Annotated[int, msgspec.Meta(ge=1, le=100_000)]


class ClassInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str
    owner_id: str | None
    """The instructor who owns it; None for a class first seen in producers' events (created
    over NATS by a trusted producer such as the simulator): admins only, until given an owner."""
    collect_code: bool
    """Producers send the cell's code only when true; ingest drops it otherwise."""
    pseudonymise: bool
    """Producers send ``HMAC-SHA256(salt, student id)`` (hex, first 16 bytes) instead of the id."""
    planned_cells: int | None
    created_at: datetime
    api_key_id: str | None = None
    """The class's producer key (scope ``ingest:events``), when it has one."""
    student_id: str | None = None
    """In a student's list (:class:`ListClasses` with ``viewer_role="student"``): the id their
    events carry in this class (their email, or its :func:`pseudonym`); None otherwise."""


PSEUDONYM_HEX_CHARS = 32
"""A pseudonym is the first 16 bytes of the HMAC, in hex."""


def pseudonym(salt: str, student_id: str) -> str:
    """``hex(HMAC-SHA256(salt, student_id))[:32]``, both as UTF-8: what a producer sends for a
    class that pseudonymises, and how persistence finds a student's classes from their email."""
    digest = hmac.new(salt.encode(), student_id.encode(), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_HEX_CHARS]


class ProducerSettings(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What a producer holding the class's key reads from ingest (``GET /api/v1/events/settings``)
    before it sends: whether to send code, and the salt for pseudonyms."""

    class_id: str
    collect_code: bool
    pseudonymise: bool
    salt: str | None = None


class CreateClass(msgspec.Struct, frozen=True, kw_only=True, tag="create_class"):
    id: ClassId
    title: ClassTitle
    owner_id: StoredText | None = None
    collect_code: bool = False
    pseudonymise: bool = False
    planned_cells: PlannedCells | None = None


class UpdateClass(msgspec.Struct, frozen=True, kw_only=True, tag="update_class"):
    class_id: ClassId
    title: ClassTitle | None = None
    owner_id: StoredText | None = None
    collect_code: bool | None = None
    pseudonymise: bool | None = None
    planned_cells: PlannedCells | None = None
    api_key_id: StoredText | None = None


class ListClasses(msgspec.Struct, frozen=True, kw_only=True, tag="list_classes"):
    """The classes ``viewer_id`` may see with ``viewer_role`` (all for admins)."""

    viewer_id: StoredText
    viewer_role: StoredText
    viewer_email: StoredText | None = None


class GetClass(msgspec.Struct, frozen=True, kw_only=True, tag="get_class"):
    class_id: ClassId


class GetProducerSettings(msgspec.Struct, frozen=True, kw_only=True, tag="get_producer_settings"):
    class_id: ClassId


class ClassReply(msgspec.Struct, frozen=True, kw_only=True, tag="class"):
    class_: ClassInfo = msgspec.field(name="class")


class ClassList(msgspec.Struct, frozen=True, kw_only=True, tag="class_list"):
    classes: list[ClassInfo]


class ProducerSettingsReply(msgspec.Struct, frozen=True, kw_only=True, tag="producer_settings"):
    settings: ProducerSettings


ClassroomRequest = CreateClass | UpdateClass | ListClasses | GetClass | GetProducerSettings
ClassroomReply = ClassReply | ClassList | ProducerSettingsReply | RpcError

CLASSROOM_VERBS: dict[type[ClassroomRequest], str] = {
    CreateClass: "create",
    UpdateClass: "update",
    ListClasses: "list",
    GetClass: "get",
    GetProducerSettings: "producer_settings",
}
"""Each request on its own subject ``rpc.classroom.<verb>`` (NATS permissions per verb)."""
