"""The state of one (rule, series) that is not at rest, as kept in memory and in
``alerts.firing``; and the dedupe keys that make a notification sent twice arrive once."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Literal

AlertState = Literal["pending", "firing", "resolved"]
MAX_SERIES_IN_KEY = 200
AlertKey = tuple[str, str]
"""(rule id, series key)."""


@dataclass(slots=True)
class Alert:
    """Times are seconds since the Unix epoch (the evaluator's clock)."""

    rule_id: str
    series: str
    state: AlertState
    since: float
    """When the condition began to hold."""
    value: float | None
    fired_at: float | None = None
    fire_sent: bool = False
    """The notifier answered the firing's create."""
    resolved_at: float | None = None
    resolve_sent: bool = False

    @property
    def key(self) -> AlertKey:
        return self.rule_id, self.series

    @property
    def unsent(self) -> bool:
        """A notification of it is owed: the firing, or the resolve (the firing first)."""
        return (self.state == "firing" and not self.fire_sent) or self.state == "resolved"

    def snapshot(self) -> Alert:
        return dataclasses.replace(self)


def fire_key(alert: Alert) -> str:
    """The firing's dedupe key: one per firing, the same however often it is sent."""
    assert alert.fired_at is not None
    series = alert.series
    if len(series) > MAX_SERIES_IN_KEY:  # a student and cell id may be long: the key is bounded
        series = hashlib.sha256(series.encode()).hexdigest()
    return f"alert:{alert.rule_id}:{series}:{round(alert.fired_at * 1000)}"


def resolve_key(alert: Alert) -> str:
    return f"{fire_key(alert)}:resolved"
