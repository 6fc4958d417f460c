"""The live copy of a stream: core NATS subjects the gateways fan out from.

A stream configured with a republish (``pulse_runtime.streams``) sends each message it stores to
``live.<its subject>`` as well, with its stream sequence in headers, so the gateways' live
fan-out needs no consumer state. Any domain whose stream is watched live uses the same prefix.
"""

from __future__ import annotations

LIVE_PREFIX = "live."


def live_subject(stream_subject: str) -> str:
    """Where the stream republishes ``stream_subject`` (a pattern is mapped alike)."""
    return f"{LIVE_PREFIX}{stream_subject}"
