"""The outbox: inbox changes committed with the change itself, then published to JetStream
exactly once, in each user's order (the reasoning is in :mod:`.publisher`)."""

from .publisher import MSG_ID_HEADER, OutboxPublisher, message_id, publish_in_waves, waves
from .store import OutboxRow, backlog, enqueue

__all__ = [
    "MSG_ID_HEADER",
    "OutboxPublisher",
    "OutboxRow",
    "backlog",
    "enqueue",
    "message_id",
    "publish_in_waves",
    "waves",
]
