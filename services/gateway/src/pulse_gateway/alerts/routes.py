"""The alert rule routes: admins manage every rule, instructors the rules on their own
classes (the alerts service decides, from the caller the gateway names: ``rule_not_found``
for a rule one may not see); nobody else any."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from pulse_contracts.notifications.rules import (
    Caller,
    CreateRule,
    DeleteRule,
    GetRule,
    ListRules,
    PreviewRule,
    RuleDeleted,
    RuleList,
    RulePreview,
    RuleReply,
    UpdateRule,
)
from pulse_runtime.access_tokens import AccessClaims

from pulse_gateway.edge.refusals import refusals

from .client import AlertsClient
from .schemas import NewRule, Preview, PreviewOut, RuleChange, RuleOut, RulesOut

Request_ = Request[AccessClaims, Any, Any]
RULES = "/api/v1/alerts/rules"
RULE = RULES + "/{rule_id:str}"


def caller(request: Request_) -> Caller:
    return Caller(user_id=request.user.sub, role=request.user.role)  # type: ignore[arg-type]


def rule_out(reply: RuleReply) -> RuleOut:
    return RuleOut(rule=reply.rule, firings=reply.firings)


@get(RULES, opt={"access": "instructor"}, summary="The alert rules I manage",
     responses=refusals(503, 504))  # fmt: skip
async def list_rules(request: Request_, alerts: NamedDependency[AlertsClient]) -> RulesOut:
    reply = await alerts.call(ListRules(caller=caller(request)), RuleList)
    return RulesOut(rules=reply.rules)


@post(
    RULES,
    opt={"access": "instructor"},
    summary="Create an alert rule",
    description="A metric rule (`threshold`, `no_data`, `rate`: admins) or a classroom rule"
    " (`cell_errors`, `student_idle`, `class_behind`: admins, and the class's instructor)."
    " `unknown_series`: no data of that metric/source; `unknown_class`; `bad_rule`.",
    status_code=HTTP_201_CREATED,
    responses=refusals(400, 413, 503, 504),
)
async def create_rule(
    request: Request_, data: JSONBody[NewRule], alerts: NamedDependency[AlertsClient]
) -> Response[RuleOut]:
    create = CreateRule(
        caller=caller(request),
        name=data.name,
        condition=data.condition,
        severity=data.severity,
        recipients=data.recipients,
        enabled=data.enabled,
    )
    reply = await alerts.call(create, RuleReply)
    return Response(rule_out(reply), status_code=HTTP_201_CREATED)


@post(
    RULES + "/preview",
    opt={"access": "instructor"},
    summary="Which series a condition matches now, with their latest values",
    status_code=200,
    responses=refusals(400, 413, 503, 504),
)
async def preview_rule(
    request: Request_, data: JSONBody[Preview], alerts: NamedDependency[AlertsClient]
) -> PreviewOut:
    reply = await alerts.call(
        PreviewRule(caller=caller(request), condition=data.condition), RulePreview
    )
    return PreviewOut(series=reply.series)


@get(RULE, opt={"access": "instructor"}, summary="One alert rule and its firing series",
     responses=refusals(400, 404, 503, 504))  # fmt: skip
async def show_rule(
    request: Request_, rule_id: FromPath[str], alerts: NamedDependency[AlertsClient]
) -> RuleOut:
    reply = await alerts.call(GetRule(caller=caller(request), rule_id=rule_id[:64]), RuleReply)
    return rule_out(reply)


@put(
    RULE,
    opt={"access": "instructor"},
    summary="Change an alert rule (only the fields given)",
    description="A new condition, or disabling it, forgets its pending and firing series.",
    responses=refusals(400, 404, 413, 503, 504),
)
async def change_rule(
    request: Request_,
    rule_id: FromPath[str],
    data: JSONBody[RuleChange],
    alerts: NamedDependency[AlertsClient],
) -> RuleOut:
    update = UpdateRule(
        caller=caller(request),
        rule_id=rule_id[:64],
        name=data.name,
        condition=data.condition,
        severity=data.severity,
        recipients=data.recipients,
        enabled=data.enabled,
    )
    return rule_out(await alerts.call(update, RuleReply))


@delete(RULE, opt={"access": "instructor"}, summary="Delete an alert rule",
        status_code=HTTP_204_NO_CONTENT, responses=refusals(400, 404, 503, 504))  # fmt: skip
async def delete_rule(
    request: Request_, rule_id: FromPath[str], alerts: NamedDependency[AlertsClient]
) -> None:
    await alerts.call(DeleteRule(caller=caller(request), rule_id=rule_id[:64]), RuleDeleted)


ROUTES = [list_rules, create_rule, preview_rule, show_rule, change_rule, delete_rule]
