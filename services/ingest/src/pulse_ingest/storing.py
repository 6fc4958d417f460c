"""What a producer is told when valid points could not be stored."""

from __future__ import annotations


class NotStored(Exception):
    """Valid points that JetStream did not confirm storing (away, or too slow to answer).

    Nothing is promised: some series of the message may be stored, others not. The same
    message sent again is safe (``Nats-Msg-Id`` and the database's unique key drop repeats).
    The cause is the first publish error.
    """
