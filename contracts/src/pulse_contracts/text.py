"""Text that PostgreSQL can store: ``text`` and ``jsonb`` refuse the NUL character (U+0000).

A field that ends up in the database takes :data:`STORABLE` beside its length limits, so a NUL
is refused where the message arrives (a 400 or a dead letter naming the field), not by the
database long after the message was accepted.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

STORABLE_TEXT_PATTERN = r"^[^\x00]*$"
"""Any text without a NUL (``$`` may match before a final newline, which is allowed text)."""

STORABLE = msgspec.Meta(pattern=STORABLE_TEXT_PATTERN, description="text without NUL (U+0000)")
"""Add to a ``str`` field's ``Annotated[...]`` metadata: ``Annotated[str, Meta(...), STORABLE]``."""

DOCUMENTED_STORABLE = msgspec.Meta(
    extra_json_schema={"pattern": STORABLE_TEXT_PATTERN}, description=STORABLE.description
)
""":data:`STORABLE` in the schema only, for the fields of a message so hot that the pattern would
be most of its decoding time (a notebook event's seven text fields made decoding six times
slower). Whoever accepts such a message from outside checks for NUL itself, after decoding (see
:func:`pulse_contracts.classroom.events.refusal`)."""

StoredText = Annotated[str, STORABLE]
"""Text that reaches a table (or a query on one) with no other limit: an email to look up, an
id, a name."""
