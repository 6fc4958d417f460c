"""What the NATS cluster says about a stream's copies: who leads, and whether all caught up."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client
from pulse_contracts import subjects

STREAMS = (subjects.METRICS_STREAM, subjects.EVENTS_STREAM)


async def stream_leader(nc: Client, stream: str = subjects.METRICS_STREAM) -> str:
    """The node (server name) leading ``stream``: where its writes are ordered."""
    info = await nc.jetstream().stream_info(stream)
    assert info.cluster is not None, info
    assert info.cluster.leader, info
    return info.cluster.leader


async def all_replicas_current(nc: Client, within_s: float = 60.0) -> dict[str, int]:
    """Wait until every replica of Pulse's busy streams has caught up with its leader; the
    streams' replica counts (leader included)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        replicas, current = {}, True
        for stream in STREAMS:
            try:
                info = await nc.jetstream().stream_info(stream)
            except Exception:  # no leader yet, or an election in progress
                current = False
                continue
            peers = info.cluster.replicas if info.cluster and info.cluster.replicas else []
            replicas[stream] = 1 + len(peers) if info.cluster and info.cluster.leader else 0
            current = current and replicas[stream] == 3
            current = current and all(peer.current and not peer.offline for peer in peers)
        if current or asyncio.get_running_loop().time() > deadline:
            assert current, f"replicas not current after {within_s} s: {replicas}"
            return replicas
        await asyncio.sleep(0.5)
