"""How far persistence is behind each stream it stores: read from the metadata JetStream puts
on every message fetched (no extra request), per stream.

- ``pulse_persistence_stream_pending{stream}``: messages in the stream not yet delivered to
  persistence, as of the last batch fetched;
- ``pulse_persistence_lag_seconds{stream}``: how long the last message fetched had waited in
  the stream (fetch time minus the time JetStream stored it).

Both stay at their last value while the stream is idle: the last batch of a caught-up consumer
says 0 pending.
"""

from __future__ import annotations

import time

from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry
from pulse_runtime.telemetry import gauge


class StreamLag:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._pending = gauge(
            registry,
            "pulse_persistence_stream_pending",
            "Messages in the stream not yet delivered to persistence (at the last fetch)",
            ("stream",),
        )
        self._lag = gauge(
            registry,
            "pulse_persistence_lag_seconds",
            "How long the last message fetched had waited in the stream",
            ("stream",),
        )

    def observer(self, stream: str) -> FetchedObserver:
        return FetchedObserver(self, stream)

    def observe(self, stream: str, msg: Msg) -> None:
        try:
            metadata = msg.metadata
        except Exception:  # not a JetStream message (cannot happen on a pull consumer)
            return
        self._pending.labels(stream).set(metadata.num_pending)
        if metadata.timestamp is not None:
            waited = time.time() - metadata.timestamp.timestamp()
            self._lag.labels(stream).set(max(0.0, waited))


class FetchedObserver:
    """A :data:`~pulse_runtime.consumer.FetchObserver` for one stream."""

    __slots__ = ("_lag", "_stream")

    def __init__(self, lag: StreamLag, stream: str) -> None:
        self._lag = lag
        self._stream = stream

    def __call__(self, msg: Msg) -> None:
        self._lag.observe(self._stream, msg)
