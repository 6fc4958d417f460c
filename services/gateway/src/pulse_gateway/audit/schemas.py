"""JSON shapes of the audit routes. Answers are the contract's replies as they are (their
``type`` tag included; a dead letter's ``data`` is base64); the one body is the ids to replay
or discard (the caller and the trace come from the request, never from the body)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from pulse_contracts.audit import MAX_IDS

MAX_ID = 2**63 - 1
"""The largest id a dead letter can have (``bigint``)."""
LetterId = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]


class DeadLetterIds(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    ids: Annotated[list[LetterId], msgspec.Meta(min_length=1, max_length=MAX_IDS)]
