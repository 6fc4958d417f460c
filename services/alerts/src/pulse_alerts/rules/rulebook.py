"""The answers to ``rpc.alerts.*``: who may do what with which rule, and what a rule must be.

Admins manage every rule. Instructors manage classroom rules on the classes they own, sent to
named users only (not to a role or everyone); a rule they may not see is ``rule_not_found`` to
them, as a class one may not see is. Every other role is ``forbidden``.
"""

from __future__ import annotations

import math
from typing import Protocol

import msgspec
from pulse_contracts import RpcError, SeriesInfo
from pulse_contracts.classroom import ClassInfo
from pulse_contracts.notifications import (
    AlertRule,
    AlertsReply,
    AlertsRequest,
    Caller,
    ClassBehind,
    Condition,
    CreateRule,
    DeleteRule,
    GetRule,
    ListRules,
    NoData,
    PreviewRule,
    PreviewSeries,
    Rate,
    Recipients,
    RuleDeleted,
    RuleList,
    RulePreview,
    RuleReply,
    Threshold,
    UpdateRule,
)

from .store import RuleStore, class_of


class Directory(Protocol):
    async def matching(self, metric: str, source: str | None) -> list[SeriesInfo]: ...
    async def class_info(self, class_id: str) -> ClassInfo | None: ...
    async def classes_of(self, user_id: str, role: str) -> list[str]: ...


class Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.error = RpcError(code=code, message=message)


def _not_found(rule_id: str) -> Refused:
    return Refused("rule_not_found", f"no rule {rule_id!r}")


def check_shape(condition: Condition, recipients: Recipients) -> None:
    """What msgspec's bounds cannot say."""
    for number in (getattr(condition, "value", 0.0), getattr(condition, "per_s", 0.0)):
        if not math.isfinite(number):
            raise Refused("bad_rule", "the condition's value must be a finite number")
    if not (recipients.users or recipients.roles or recipients.everyone):
        raise Refused("bad_rule", "a rule needs recipients: users, roles or everyone")


class Rulebook:
    def __init__(self, store: RuleStore, directory: Directory) -> None:
        self._store = store
        self._directory = directory

    async def handle(self, request: AlertsRequest) -> AlertsReply:  # noqa: PLR0911
        try:
            if request.caller.role not in {"admin", "instructor"}:
                raise Refused("forbidden", "only admins and instructors manage alert rules")
            match request:
                case CreateRule():
                    return await self._create(request)
                case UpdateRule():
                    return await self._update(request)
                case DeleteRule():
                    await self._visible(request.caller, request.rule_id)
                    await self._store.delete(request.rule_id)
                    return RuleDeleted(rule_id=request.rule_id)
                case GetRule():
                    rule = await self._visible(request.caller, request.rule_id)
                    return RuleReply(rule=rule, firings=await self._store.firings(rule.id))
                case ListRules():
                    return await self._list(request.caller)
                case PreviewRule():
                    return await self._preview(request)
        except Refused as refused:
            return refused.error
        raise AssertionError(f"unhandled {type(request).__name__}")  # pragma: no cover

    async def _create(self, request: CreateRule) -> RuleReply:
        await self._check(request.caller, request.condition, request.recipients)
        rule = await self._store.create(
            name=request.name,
            condition=request.condition,
            severity=request.severity,
            recipients=request.recipients,
            enabled=request.enabled,
            owner_id=request.caller.user_id,
        )
        return RuleReply(rule=rule)

    async def _update(self, request: UpdateRule) -> RuleReply:
        rule = await self._visible(request.caller, request.rule_id)
        changed = msgspec.structs.replace(
            rule,
            name=request.name if request.name is not None else rule.name,
            condition=request.condition if request.condition is not None else rule.condition,
            severity=request.severity if request.severity is not None else rule.severity,
            recipients=request.recipients if request.recipients is not None else rule.recipients,
            enabled=request.enabled if request.enabled is not None else rule.enabled,
        )
        await self._check(request.caller, changed.condition, changed.recipients)
        forget = changed.condition != rule.condition or not changed.enabled
        stored = await self._store.replace(changed, forget_state=forget)
        return RuleReply(rule=stored, firings=await self._store.firings(stored.id))

    async def _list(self, caller: Caller) -> RuleList:
        if caller.role == "admin":
            return RuleList(rules=await self._store.listed(None))
        classes = await self._directory.classes_of(caller.user_id, caller.role)
        return RuleList(rules=await self._store.listed(classes))

    async def _preview(self, request: PreviewRule) -> RulePreview:
        condition = request.condition
        if not isinstance(condition, Threshold | NoData | Rate):
            raise Refused("bad_rule", "only a metric condition has series to preview")
        check_shape(condition, Recipients(everyone=True))
        if request.caller.role != "admin":
            raise Refused("forbidden", "only admins make rules on metrics")
        matched = await self._directory.matching(condition.metric, condition.source)
        return RulePreview(
            series=[
                PreviewSeries(
                    source=info.source,
                    metric=info.name,
                    value=info.latest_value,
                    time=info.latest_time,
                    matches=_matches_now(condition, info.latest_value),
                )
                for info in sorted(matched, key=lambda info: info.source)
            ]
        )

    async def _visible(self, caller: Caller, rule_id: str) -> AlertRule:
        rule = await self._store.get(rule_id)
        if rule is None:
            raise _not_found(rule_id)
        if caller.role == "admin":
            return rule
        class_id = class_of(rule.condition)
        if class_id is None:
            raise _not_found(rule_id)
        info = await self._directory.class_info(class_id)
        if info is None or info.owner_id != caller.user_id:
            raise _not_found(rule_id)
        return rule

    async def _check(self, caller: Caller, condition: Condition, recipients: Recipients) -> None:
        check_shape(condition, recipients)
        admin = caller.role == "admin"
        if not admin and (recipients.roles or recipients.everyone):
            raise Refused("forbidden", "an instructor's rule goes to named users only")
        if isinstance(condition, Threshold | NoData | Rate):
            if not admin:
                raise Refused("forbidden", "only admins make rules on metrics")
            if not await self._directory.matching(condition.metric, condition.source):
                where = f" from {condition.source!r}" if condition.source else ""
                raise Refused("unknown_series", f"no data of {condition.metric!r}{where}")
            return
        class_id = class_of(condition)
        assert class_id is not None
        info = await self._directory.class_info(class_id)
        if info is None:
            raise Refused("unknown_class", f"no class {class_id!r}")
        if not admin and info.owner_id != caller.user_id:
            raise Refused("forbidden", f"the class {class_id!r} is not yours")
        if isinstance(condition, ClassBehind) and not info.planned_cells:
            raise Refused("bad_rule", f"the class {class_id!r} has no planned_cells to be behind")


def _matches_now(condition: Threshold | NoData | Rate, value: float | None) -> bool:
    if not isinstance(condition, Threshold) or value is None:
        return False
    return value > condition.value if condition.op == "above" else value < condition.value
