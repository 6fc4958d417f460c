"""Alert rules: conditions on metrics and on classroom events that raise notifications.

Owned by the ``alerts`` service (its ``alerts`` schema), asked over ``rpc.alerts.<verb>``
(:data:`ALERTS_VERBS`) by the gateway, which passes the caller's id and role. Admins manage
every rule; instructors the classroom rules of the classes they own (any other rule is
``rule_not_found`` to them); nobody else any.

A rule fires once per series it matches (a metric rule with ``source=None`` watches every
source of its metric, one alert each) and stays firing until its condition clears; then a
"resolved" notification (kind ``success``) follows. docs/alerts.md describes the evaluation.

Refusal codes (:class:`~pulse_contracts.rpc.RpcError`): ``bad_request`` (undecodable),
``bad_rule`` (a bound broken: a negative duration, no recipients, …), ``unknown_series`` (a
metric rule on a metric/source with no stored data), ``unknown_class``, ``forbidden``,
``rule_not_found``, ``unavailable`` (retry).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from pulse_contracts.accounts.users import Role
from pulse_contracts.classroom.events import ClassId
from pulse_contracts.metrics.points import SeriesToken
from pulse_contracts.rpc import RpcError
from pulse_contracts.text import STORABLE

from .inbox import Kind, Recipients, UserId

Op = Literal["above", "below"]
MAX_DURATION_S = 7 * 24 * 3600
Duration = Annotated[float, msgspec.Meta(ge=0, le=MAX_DURATION_S)]
"""Seconds a condition must hold before it fires (0: at once)."""
PositiveDuration = Annotated[float, msgspec.Meta(gt=0, le=MAX_DURATION_S)]
RuleName = Annotated[str, msgspec.Meta(min_length=1, max_length=200), STORABLE]
RuleId = Annotated[str, msgspec.Meta(min_length=1, max_length=64), STORABLE]
MAX_RULES_LISTED = 10_000


class Threshold(msgspec.Struct, frozen=True, kw_only=True, tag="threshold"):
    """The metric's latest value ``above``/``below`` ``value`` for ``for_s`` seconds."""

    metric: SeriesToken
    source: SeriesToken | None = None
    """None: every source of the metric, one alert per series."""
    op: Op = "above"
    value: float
    for_s: Duration = 0.0


class NoData(msgspec.Struct, frozen=True, kw_only=True, tag="no_data"):
    """No point of a series for ``for_s`` seconds (a series that was seen at least once)."""

    metric: SeriesToken
    source: SeriesToken | None = None
    for_s: PositiveDuration


class Rate(msgspec.Struct, frozen=True, kw_only=True, tag="rate"):
    """The change per second between a series' consecutive points ``above``/``below``
    ``per_s`` for ``for_s`` seconds (a drop of 5/s is ``op="below", per_s=-5``)."""

    metric: SeriesToken
    source: SeriesToken | None = None
    op: Op = "above"
    per_s: float
    for_s: Duration = 0.0


class CellErrors(msgspec.Struct, frozen=True, kw_only=True, tag="cell_errors"):
    """A student whose runs of one cell failed ``errors`` times since it last ran cleanly;
    resolved when it does."""

    class_id: ClassId
    errors: Annotated[int, msgspec.Meta(ge=1, le=10_000)]


class StudentIdle(msgspec.Struct, frozen=True, kw_only=True, tag="student_idle"):
    """A student of the class with no event for ``minutes``; resolved by their next event."""

    class_id: ClassId
    minutes: Annotated[float, msgspec.Meta(gt=0, le=24 * 60)]


class ClassBehind(msgspec.Struct, frozen=True, kw_only=True, tag="class_behind"):
    """The median student ``cells`` or more cells behind the notebook's plan: the class's
    ``planned_cells`` spread evenly over ``plan_minutes`` from the session's first event."""

    class_id: ClassId
    cells: Annotated[int, msgspec.Meta(ge=1, le=100_000)]
    plan_minutes: Annotated[float, msgspec.Meta(gt=0, le=24 * 60)] = 60.0


MetricCondition = Threshold | NoData | Rate
ClassCondition = CellErrors | StudentIdle | ClassBehind
Condition = Threshold | NoData | Rate | CellErrors | StudentIdle | ClassBehind
"""Tagged by ``type``: ``{"type": "threshold", "metric": "cpu", "value": 90, "for_s": 30}``."""


class AlertRule(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    condition: Condition
    severity: Kind
    recipients: Recipients
    enabled: bool
    owner_id: str
    created_at: datetime
    updated_at: datetime


class Firing(msgspec.Struct, frozen=True, kw_only=True):
    """One series of a rule that is not at rest: ``pending`` (the condition holds, not yet
    for its duration) or ``firing``."""

    series: str
    state: Literal["pending", "firing"]
    since: datetime
    value: float | None
    fired_at: datetime | None


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """Who asks (the gateway fills it in from the access token)."""

    user_id: UserId
    role: Role


class CreateRule(msgspec.Struct, frozen=True, kw_only=True, tag="create_rule"):
    caller: Caller
    name: RuleName
    condition: Condition
    severity: Kind = "warning"
    recipients: Recipients
    enabled: bool = True


class UpdateRule(msgspec.Struct, frozen=True, kw_only=True, tag="update_rule"):
    """Only the fields given change. A new condition, or disabling, forgets the rule's
    pending and firing series (without a "resolved")."""

    caller: Caller
    rule_id: RuleId
    name: RuleName | None = None
    condition: Condition | None = None
    severity: Kind | None = None
    recipients: Recipients | None = None
    enabled: bool | None = None


class DeleteRule(msgspec.Struct, frozen=True, kw_only=True, tag="delete_rule"):
    caller: Caller
    rule_id: RuleId


class GetRule(msgspec.Struct, frozen=True, kw_only=True, tag="get_rule"):
    caller: Caller
    rule_id: RuleId


class ListRules(msgspec.Struct, frozen=True, kw_only=True, tag="list_rules"):
    """Admins: every rule; instructors: the rules on their classes."""

    caller: Caller


class PreviewRule(msgspec.Struct, frozen=True, kw_only=True, tag="preview_rule"):
    """Which series a metric condition matches now, with their latest values (a form's
    preview, before the rule is saved)."""

    caller: Caller
    condition: Condition


class RuleReply(msgspec.Struct, frozen=True, kw_only=True, tag="rule"):
    rule: AlertRule
    firings: list[Firing] = []


class RuleList(msgspec.Struct, frozen=True, kw_only=True, tag="rule_list"):
    rules: list[AlertRule]


class RuleDeleted(msgspec.Struct, frozen=True, kw_only=True, tag="rule_deleted"):
    rule_id: str


class PreviewSeries(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    metric: str
    value: float | None
    time: datetime | None
    matches: bool
    """Whether its latest value meets the condition now (always false for ``no_data`` and
    ``rate``, which need more than one value)."""


class RulePreview(msgspec.Struct, frozen=True, kw_only=True, tag="rule_preview"):
    series: list[PreviewSeries]


AlertsRequest = CreateRule | UpdateRule | DeleteRule | GetRule | ListRules | PreviewRule
AlertsReply = RuleReply | RuleList | RuleDeleted | RulePreview | RpcError

ALERTS_VERBS: dict[type[AlertsRequest], str] = {
    CreateRule: "create",
    UpdateRule: "update",
    DeleteRule: "delete",
    GetRule: "get",
    ListRules: "list",
    PreviewRule: "preview",
}
"""Each request's verb: ``rpc.alerts.<verb>``."""
