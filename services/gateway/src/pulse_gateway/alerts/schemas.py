"""JSON shapes of the alert rule routes: the contract's requests without the caller (the
gateway fills it in from the token) and the rule's id (the path has it), its replies without
their ``type`` tag."""

from __future__ import annotations

import msgspec
from pulse_contracts.notifications import Kind, Recipients
from pulse_contracts.notifications.rules import (
    AlertRule,
    Condition,
    Firing,
    PreviewSeries,
    RuleName,
)


class NewRule(msgspec.Struct, frozen=True, kw_only=True):
    name: RuleName
    condition: Condition
    severity: Kind = "warning"
    recipients: Recipients
    enabled: bool = True


class RuleChange(msgspec.Struct, frozen=True, kw_only=True):
    """Only the fields given change (a whole rule works too)."""

    name: RuleName | None = None
    condition: Condition | None = None
    severity: Kind | None = None
    recipients: Recipients | None = None
    enabled: bool | None = None


class Preview(msgspec.Struct, frozen=True, kw_only=True):
    condition: Condition


class RuleOut(msgspec.Struct, frozen=True, kw_only=True):
    rule: AlertRule
    firings: list[Firing]
    """Its series that are pending or firing now."""


class RulesOut(msgspec.Struct, frozen=True, kw_only=True):
    rules: list[AlertRule]


class PreviewOut(msgspec.Struct, frozen=True, kw_only=True):
    series: list[PreviewSeries]
