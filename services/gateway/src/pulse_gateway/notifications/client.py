"""The notifier owns every inbox; the gateway asks it over ``rpc.notify.<verb>``."""

from __future__ import annotations

from nats.aio.client import Client
from pulse_contracts import Codec, subjects
from pulse_contracts.notifications import NOTIFY_VERBS, NotifyReply, NotifyRequest

from pulse_gateway.edge.rpc import RpcClient

NotifierClient = RpcClient[NotifyRequest]

STATUS = {
    "bad_request": 400,
    "unknown_recipient": 400,
    "no_recipients": 400,
}
"""The HTTP status of each refusal of the notifier; any other code is 503."""


def notifier_client(nats: Client, codec: Codec, *, timeout_s: float) -> NotifierClient:
    return RpcClient(
        nats,
        codec,
        service="notifier",
        subject_of=lambda request: subjects.notify_rpc(NOTIFY_VERBS[type(request)]),
        replies=NotifyReply,
        status=STATUS,
        timeout_s=timeout_s,
    )
