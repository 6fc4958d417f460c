"""Where a message's version lives (docs/contracts.md, "Versions").

A change an old reader still reads (a new field with a default; for an array-like Struct, one
appended at the end) keeps the version. Any other change of shape is a new version: a new
Struct beside the old one, never an edit of it. Readers learn the new version before any
writer sends it, and the old one goes only once no stream holds it any more.

* A tagged message carries its version in its tag. The next domains' messages are tagged from
  their first version: ``versioned_tag("notification_created", 1)``. A message tagged before
  this rule is version 1 under its bare tag (``"login"``); its version 2 is
  ``versioned_tag("login", 2)``.
* An untagged message (a producer's ``MetricPoint``, ``SeriesBatch``, ``DeadLetter``,
  ``IngestAck``) carries its version in its subject: version 1 is today's subject, a later one
  goes on ``versioned_subject(subject, n)``.
"""

from __future__ import annotations

from typing import Final

VERSION_PREFIX: Final = "v"


def versioned_tag(name: str, version: int) -> str:
    """The tag of message ``name`` at ``version``: ``name.v<version>``."""
    return f"{name}.{_token(version)}"


def versioned_subject(subject: str, version: int) -> str:
    """Where an untagged message of ``subject`` travels at ``version``: version 1 is ``subject``
    itself; a later one puts ``v<version>`` after the first token (``metrics.sim.cpu`` at 2:
    ``metrics.v2.sim.cpu``): a subscription spelled with the older subject's tokens
    (``metrics.*.cpu``) never gets it; one ending in ``>`` does, and must read it first.
    """
    token = _token(version)
    if version == 1:
        return subject
    first, dot, rest = subject.partition(".")
    return f"{first}.{token}{dot}{rest}"


def _token(version: int) -> str:
    if version < 1:
        raise ValueError(f"a version counts from 1, not {version}")
    return f"{VERSION_PREFIX}{version}"
