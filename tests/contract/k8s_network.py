"""What a set of NetworkPolicies allows, worked out the way the Kubernetes API defines it.

Limited to what deploy/k8s uses: pod and namespace selectors by ``matchLabels``, ``ipBlock``
without ``except``, numeric TCP/UDP ports. A pod no policy selects for a direction may do
anything in that direction; a pod that some policy selects for it may do only what the union
of those policies' rules allows. A connection needs both the source's egress and the
destination's ingress (each checked only where that pod is in the namespace under test).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from tests.contract.k8s_manifests import Manifest, matches


@dataclass(frozen=True)
class Endpoint:
    """A pod (labels, its namespace's labels) or an address outside the cluster (``ip``)."""

    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    namespace_labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    local: bool = True  # in the namespace the policies belong to
    ip: str | None = None


def _ip_in(ip: str, cidr: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)


def _peer_matches(peer: dict[str, Any], other: Endpoint) -> bool:
    if "ipBlock" in peer:
        assert set(peer["ipBlock"]) == {"cidr"}, peer
        return other.ip is not None and _ip_in(other.ip, peer["ipBlock"]["cidr"])
    if other.ip is not None:
        return False
    if "namespaceSelector" in peer:
        namespace_ok = matches(peer["namespaceSelector"], other.namespace_labels)
    else:  # a podSelector alone means the policy's own namespace
        namespace_ok = other.local
    pod_ok = matches(peer.get("podSelector", {}), other.labels)
    return namespace_ok and pod_ok


def _rules_allow(rules: list[dict[str, Any]], key: str, other: Endpoint, port: int) -> bool:
    for rule in rules:
        peers = rule.get(key)
        ports = rule.get("ports")
        peer_ok = not peers or any(_peer_matches(peer, other) for peer in peers)
        port_ok = not ports or any(p.get("port") in (None, port) for p in ports)
        if peer_ok and port_ok:
            return True
    return False


def _direction_allows(
    policies: list[Manifest], pod: Endpoint, direction: str, other: Endpoint, port: int
) -> bool:
    selecting = [
        policy
        for policy in policies
        if direction in policy["spec"].get("policyTypes", ["Ingress"])
        and matches(policy["spec"]["podSelector"], pod.labels)
    ]
    if not selecting:
        return True
    rules_key, peer_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    return any(
        _rules_allow(policy["spec"].get(rules_key) or [], peer_key, other, port)
        for policy in selecting
    )


def allowed(policies: list[Manifest], source: Endpoint, target: Endpoint, port: int) -> bool:
    """Whether ``source`` may open a connection to ``target`` on ``port``."""
    if (
        source.local
        and source.ip is None
        and not _direction_allows(policies, source, "Egress", target, port)
    ):
        return False
    if target.local and target.ip is None:
        return _direction_allows(policies, target, "Ingress", source, port)
    return True
