"""The alerts service owns the rules; the gateway asks it over ``rpc.alerts.<verb>``."""

from __future__ import annotations

from nats.aio.client import Client
from pulse_contracts import Codec, subjects
from pulse_contracts.notifications.rules import ALERTS_VERBS, AlertsReply, AlertsRequest

from pulse_gateway.edge.rpc import RpcClient

AlertsClient = RpcClient[AlertsRequest]

STATUS = {
    "bad_request": 400,
    "bad_rule": 400,
    "unknown_series": 400,
    "unknown_class": 400,
    "unknown_recipient": 400,
    "forbidden": 403,
    "rule_not_found": 404,
}
"""The HTTP status of each refusal of the alerts service; any other code is 503."""


def alerts_client(nats: Client, codec: Codec, *, timeout_s: float) -> AlertsClient:
    return RpcClient(
        nats,
        codec,
        service="alerts",
        subject_of=lambda request: subjects.alerts_rpc(ALERTS_VERBS[type(request)]),
        replies=AlertsReply,
        status=STATUS,
        timeout_s=timeout_s,
    )
