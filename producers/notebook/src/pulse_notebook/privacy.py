"""What the class allows: its settings as ingest reports them, and each event made fit to
send under them (the code kept only when the class collects it, the student's id replaced by
its pseudonym when the class asks for one).

Events are buffered raw on the student's own disk and made fit at send time, so an event
captured before the settings were known is never sent with code or a raw id the class does
not want.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any


class SettingsError(ValueError):
    """Ingest's settings answer is not what the contract says."""


@dataclasses.dataclass(frozen=True)
class ClassSettings:
    """``GET /api/v1/events/settings`` (the contract's ``ProducerSettings``)."""

    class_id: str
    collect_code: bool
    pseudonymise: bool
    salt: str | None = None

    @classmethod
    def from_json(cls, body: Any) -> ClassSettings:
        if not isinstance(body, dict):
            raise SettingsError("the settings answer is not a JSON object")
        class_id = body.get("classId")
        collect_code = body.get("collectCode")
        pseudonymise = body.get("pseudonymise")
        salt = body.get("salt")
        if not isinstance(class_id, str) or not class_id:
            raise SettingsError("the settings answer has no classId")
        if not isinstance(collect_code, bool) or not isinstance(pseudonymise, bool):
            raise SettingsError("collectCode and pseudonymise must be booleans")
        if salt is not None and not isinstance(salt, str):
            raise SettingsError("salt must be a string or null")
        if pseudonymise and not salt:
            raise SettingsError("the class pseudonymises ids but gave no salt")
        return cls(class_id, collect_code, pseudonymise, salt)


def pseudonym(salt: str, student: str) -> str:
    """The hex of the first 16 bytes of ``HMAC-SHA256(key=salt, msg=student)``: the same
    student gets the same pseudonym in the class, and it cannot be reversed without the salt."""
    digest = hmac.new(salt.encode(), student.encode(), hashlib.sha256).digest()
    return digest[:16].hex()


def fit_to_send(event: dict[str, Any], settings: ClassSettings) -> dict[str, Any]:
    """A copy of ``event`` as the class allows it to leave the student's machine."""
    sent = dict(event)
    if not settings.collect_code:
        sent.pop("code", None)
    if settings.pseudonymise:
        assert settings.salt is not None  # from_json refuses pseudonymise without a salt
        sent["userId"] = pseudonym(settings.salt, str(event["userId"]))
    return sent
