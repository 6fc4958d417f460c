"""What a firing and its resolve say, and sending them to the notifier (``rpc.notify.create``).

Each carries its dedupe key (:func:`~.alerts.fire_key`, :func:`~.alerts.resolve_key`): sent
again after a crash or a lost answer, the notifier takes it as delivered and stores nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from nats.aio.client import Client
from nats.errors import Error as NatsError
from pulse_contracts import Codec, RpcError, subjects
from pulse_contracts.notifications import (
    AlertRule,
    CellErrors,
    ClassBehind,
    Created,
    CreateNotification,
    Link,
    NoData,
    Rate,
    StudentIdle,
    Threshold,
)
from pulse_contracts.notifications.inbox import MAX_BODY_CHARS, MAX_TITLE_CHARS
from pulse_runtime.logging import get_logger

from .alerts import Alert, fire_key, resolve_key

log = get_logger(__name__)
_CREATE_REPLY = msgspec.msgpack.Decoder(Created | RpcError)


def _when(epoch_s: float | None) -> str:
    if epoch_s is None:
        return "?"
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def describe(rule: AlertRule, alert: Alert) -> str:
    value = "" if alert.value is None else f"{alert.value:.4g}"
    match rule.condition:
        case Threshold(op=op, value=limit, for_s=for_s):
            return f"{alert.series} is {value}, {op} {limit:g} for {for_s:g} s"
        case Rate(op=op, per_s=per_s, for_s=for_s):
            return f"{alert.series} changes by {value}/s, {op} {per_s:g}/s for {for_s:g} s"
        case NoData(for_s=for_s):
            return f"{alert.series}: no data for {for_s:g} s (last at {_when(alert.since)})"
        case CellErrors(errors=errors):
            return f"{alert.series}: {value} failed runs of the cell (the rule says {errors})"
        case StudentIdle(minutes=minutes):
            return f"{alert.series}: idle for {value} min (the rule says {minutes:g})"
        case ClassBehind(cells=cells):
            return f"class {alert.series} is {value} cells behind its plan (the rule says {cells})"


def link_for(rule: AlertRule, alert: Alert) -> Link:
    condition = rule.condition
    if isinstance(condition, Threshold | Rate | NoData):
        return Link(kind="series", target=alert.series)
    if isinstance(condition, ClassBehind):
        return Link(kind="class", target=condition.class_id)
    student = ":".join(alert.series.split(":", 2)[:2])
    return Link(kind="student", target=student[:300])


def notice(rule: AlertRule, alert: Alert, *, resolved: bool) -> CreateNotification:
    if resolved:
        title = f"Resolved: {rule.name}"
        body = f"{alert.series} is back to normal at {_when(alert.resolved_at)}"
        body += f" (firing since {_when(alert.fired_at)})."
    else:
        title = rule.name
        body = describe(rule, alert) + "."
    return CreateNotification(
        recipients=rule.recipients,
        kind="success" if resolved else rule.severity,
        title=title[:MAX_TITLE_CHARS],
        body=body[:MAX_BODY_CHARS],
        link=link_for(rule, alert),
        source="rule",
        created_by=rule.owner_id,
        dedupe_key=resolve_key(alert) if resolved else fire_key(alert),
    )


class Notifier:
    """Sends the creates; False when it must be tried again."""

    def __init__(self, nats: Client, codec: Codec, timeout_s: float) -> None:
        self._nats = nats
        self._codec = codec
        self._timeout_s = timeout_s

    async def create(self, request: CreateNotification) -> bool:
        try:
            reply = await self._nats.request(
                subjects.notify_rpc("create"), self._codec.pack(request), timeout=self._timeout_s
            )
            answer = _CREATE_REPLY.decode(reply.data)
        except (NatsError, TimeoutError, msgspec.DecodeError) as exc:
            log.warning("notifier unanswered; will retry", error=str(exc) or type(exc).__name__)
            return False
        if isinstance(answer, RpcError):
            if answer.code in {"unavailable", "internal_error"}:
                log.warning("notifier failed; will retry", code=answer.code)
                return False
            # Refused for good (no recipient left, say): retrying would not help.
            log.warning("notification refused", code=answer.code, message=answer.message)
        return True
