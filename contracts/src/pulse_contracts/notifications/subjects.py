"""The notifications domain's names on the bus."""

from __future__ import annotations

RPC_NOTIFY = "rpc.notify"
NOTIFY_QUEUE = "notifier"
"""Replicas of the notifier share ``rpc.notify.*`` requests in this queue group."""
NOTIFICATIONS_STREAM = "NOTIFICATIONS"
NOTIFICATIONS_SUBJECTS = "notifications.*"
"""One subject per recipient: ``notifications.<user_id>``; every change of their inbox."""
RPC_ALERTS = "rpc.alerts"
ALERTS_QUEUE = "alerts"


def notify_rpc(verb: str) -> str:
    return f"{RPC_NOTIFY}.{verb}"


def alerts_rpc(verb: str) -> str:
    return f"{RPC_ALERTS}.{verb}"


def notifications_subject(user_id: str) -> str:
    """A recipient's inbox changes (user ids are UUIDs: one token)."""
    return f"notifications.{user_id}"
