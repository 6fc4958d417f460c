"""Pulse's two routes for producers, over the standard library's HTTP client: the class's
settings (``GET /api/v1/events/settings``) and a batch of events (``POST /api/v1/events``),
both with the class key as ``Authorization: Bearer <key>`` (as ingest checks every API key).

Each answer is sorted into what the sender does next: :class:`Accepted`, :class:`Retry`
(connection errors, 5xx, 429: the same batch later, after ``Retry-After`` when given) or
:class:`Refused` (any other 4xx: it will never be accepted; with the indexes of the refused
events when a 400 names them).
"""

from __future__ import annotations

import dataclasses
import json
import urllib.error
import urllib.request
from email.message import Message
from typing import Any, Union

from . import __version__
from .privacy import ClassSettings, SettingsError

EVENTS_PATH = "/api/v1/events"
SETTINGS_PATH = "/api/v1/events/settings"
TIMEOUT_S = 10.0
MAX_RETRY_AFTER_S = 300.0


@dataclasses.dataclass(frozen=True)
class Accepted:
    pass


@dataclasses.dataclass(frozen=True)
class Retry:
    reason: str
    after_s: float | None = None
    """The server's ``Retry-After``, when it said one."""


@dataclasses.dataclass(frozen=True)
class Refused:
    reason: str
    status: int
    bad_indexes: frozenset[int] | None = None
    """The positions in the batch of the events a 400 named; None: the whole batch."""


Outcome = Union[Accepted, Retry, Refused]


@dataclasses.dataclass(frozen=True)
class SettingsAnswer:
    settings: ClassSettings | None
    outcome: Outcome


class PulseEndpoint:
    def __init__(self, endpoint: str, key: str, timeout_s: float = TIMEOUT_S) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"the endpoint must be an http(s) URL, not {endpoint!r}")
        self.endpoint = endpoint.rstrip("/")
        self._key = key
        self.timeout_s = timeout_s

    def _request(self, method: str, path: str, body: bytes | None) -> urllib.request.Request:
        headers = {
            "Authorization": f"Bearer {self._key}",
            "Accept": "application/json",
            "User-Agent": f"pulse-notebook/{__version__}",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        url = self.endpoint + path  # http(s) only: checked in __init__
        return urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310

    def fetch_settings(self) -> SettingsAnswer:
        request = self._request("GET", SETTINGS_PATH, None)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as error:
            return SettingsAnswer(None, _failed(error, error.read(), batch_size=0))
        except (OSError, ValueError) as error:  # refused, reset, timed out, bad URL
            return SettingsAnswer(None, Retry(f"{type(error).__name__}: {error}"))
        try:
            settings = ClassSettings.from_json(json.loads(body))
        except (ValueError, SettingsError) as error:
            return SettingsAnswer(None, Retry(f"unexpected settings answer: {error}"))
        return SettingsAnswer(settings, Accepted())

    def post_events(self, events: list[dict[str, Any]]) -> Outcome:
        body = json.dumps(events, separators=(",", ":"), ensure_ascii=False).encode()
        request = self._request("POST", EVENTS_PATH, body)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                response.read()
        except urllib.error.HTTPError as error:
            return _failed(error, error.read(), batch_size=len(events))
        except (OSError, ValueError) as error:
            return Retry(f"{type(error).__name__}: {error}")
        return Accepted()


def _failed(error: urllib.error.HTTPError, body: bytes, *, batch_size: int) -> Outcome:
    status = error.code
    detail = _error_text(body) or error.reason or ""
    reason = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status == 429 or status >= 500:
        return Retry(reason, _retry_after(error.headers))
    if status == 400 and batch_size:
        return Refused(reason, status, _bad_indexes(body, batch_size))
    return Refused(reason, status)


def _retry_after(headers: Message | None) -> float | None:
    """``Retry-After`` in seconds (the delay form; an HTTP date is treated as absent)."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _decoded(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _error_text(body: bytes) -> str:
    """Pulse's error body: ``{"code", "message", "errors"?}``."""
    decoded = _decoded(body)
    if isinstance(decoded, dict):
        code, message = decoded.get("code"), decoded.get("message")
        return ": ".join(str(part) for part in (code, message) if part)
    return ""


def _bad_indexes(body: bytes, batch_size: int) -> frozenset[int] | None:
    """The refused events' positions, when the 400 lists them (``errors: [{index, field,
    reason}]``) and every one is in the batch; None when the body does not let us tell."""
    decoded = _decoded(body)
    errors = decoded.get("errors") if isinstance(decoded, dict) else None
    if not isinstance(errors, list) or not errors:
        return None
    indexes = set()
    for item in errors:
        index = item.get("index") if isinstance(item, dict) else None
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < batch_size:
            return None
        indexes.add(index)
    return frozenset(indexes)
