"""The audit domain's names on the bus."""

from __future__ import annotations

LOGS_STREAM = "LOGS"
LOGS_SUBJECTS = "logs.*.*"
"""``logs.<kind>.<service>``: ``kind`` is ``access`` or ``task``; each message a
:class:`~pulse_contracts.audit.records.LogBatch`. Republished live to ``live.logs.*.*`` (the
admins' ``logs`` channel)."""
PERSISTENCE_LOGS_DURABLE = "persistence-logs"
PERSISTENCE_DEADLETTER_DURABLE = "persistence-deadletters"
RPC_AUDIT = "rpc.audit"
AUDIT_QUEUE = "persistence-audit"
"""Replicas of persistence share ``rpc.audit.*`` requests in this queue group."""


def logs_subject(kind: str, service: str) -> str:
    """Where ``service``'s batches of ``kind`` (``access`` or ``task``) records go."""
    return f"logs.{kind}.{service}"


def audit_rpc(verb: str) -> str:
    return f"{RPC_AUDIT}.{verb}"
