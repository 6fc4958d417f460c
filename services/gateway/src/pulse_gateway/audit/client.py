"""Persistence keeps the audit trail; the gateway asks it over ``rpc.audit.<verb>``."""

from __future__ import annotations

from nats.aio.client import Client
from pulse_contracts import Codec
from pulse_contracts.audit import AUDIT_VERBS, AuditReply, AuditRequest
from pulse_contracts.audit.subjects import audit_rpc

from pulse_gateway.edge.rpc import RpcClient

AuditClient = RpcClient[AuditRequest]

STATUS = {
    "bad_request": 400,
    "bad_cursor": 400,
    "bad_filter": 400,
    "trace_not_found": 404,
    "dead_letter_not_found": 404,
}
"""The HTTP status of each refusal of persistence's audit views; any other code is 503."""


def audit_client(nats: Client, codec: Codec, *, timeout_s: float) -> AuditClient:
    """503 ``audit_unavailable`` when no persistence answers, 504 ``audit_timeout``."""
    return RpcClient(
        nats,
        codec,
        service="audit",
        subject_of=lambda request: audit_rpc(AUDIT_VERBS[type(request)]),
        replies=AuditReply,
        status=STATUS,
        timeout_s=timeout_s,
    )
