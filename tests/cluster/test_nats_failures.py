"""A NATS node killed and restarted, or cut off for 30 s, under steady traffic: every point and
event ingest acknowledged is stored exactly once, and the node's copies catch up after."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from .pulse_cluster import PulseCluster
from .replicas import all_replicas_current, stream_leader
from .traffic import assert_exactly_once, connect, producing

pytestmark = pytest.mark.integration

WARM_UP_S = 5.0
PARTITION_S = 30.0


async def test_a_nats_node_killed_and_restarted_loses_and_duplicates_nothing(
    cluster: PulseCluster, report: Any
) -> None:
    assert cluster.nats is not None
    watcher = await connect(cluster.nats.servers)
    try:
        async with producing(cluster, name="node_kill", class_id="node-kill") as traffic:
            await asyncio.sleep(WARM_UP_S)
            leader = await stream_leader(watcher)  # the hardest node to lose: it orders writes
            node = cluster.nats.nodes[leader]
            node.kill()
            await asyncio.sleep(10)
            down = traffic.outcome(*await traffic.stored())["points"]["acknowledged"]
            node.start()
            node.wait_healthy()
            await asyncio.sleep(WARM_UP_S)
        counts = await traffic.settle()
        replicas = await all_replicas_current(watcher)
    finally:
        await watcher.drain()
    report({"killed": leader, **counts, "replicas": replicas})
    assert_exactly_once(counts)
    assert down > 0, "nothing was acknowledged before the node came back"


async def test_a_nats_node_cut_off_for_30_s_loses_nothing_after_it_heals(
    cluster: PulseCluster, report: Any
) -> None:
    assert cluster.nats is not None
    watcher = await connect(cluster.nats.servers)
    try:
        async with producing(cluster, name="partition", class_id="partition") as traffic:
            await asyncio.sleep(WARM_UP_S)
            leader = await stream_leader(watcher)
            host = cluster.nats.nodes[leader].host
            cluster.network.partition(host)
            try:
                await asyncio.sleep(PARTITION_S / 2)
                during = traffic.outcome([], [])["points"]["acknowledged"]
                await asyncio.sleep(PARTITION_S / 2)
                after = traffic.outcome([], [])["points"]["acknowledged"]
            finally:
                cluster.network.heal(host)
            await asyncio.sleep(WARM_UP_S)
        counts = await traffic.settle()
        replicas = await all_replicas_current(watcher)
        new_leader = await stream_leader(watcher)
    finally:
        await watcher.drain()
    report({"partitioned": leader, "leader_after": new_leader, **counts, "replicas": replicas})
    assert_exactly_once(counts)
    # The other two nodes kept taking writes while the third was cut off.
    assert after > during, "nothing was acknowledged in the second half of the partition"
