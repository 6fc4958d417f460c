"""Prometheus registry per service instance (no global state, no work at import time)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


def new_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


def counter(
    registry: CollectorRegistry, name: str, doc: str, labels: tuple[str, ...] = ()
) -> Counter:
    return Counter(name, doc, labelnames=labels, registry=registry)


def histogram(
    registry: CollectorRegistry,
    name: str,
    doc: str,
    buckets: tuple[float, ...] | None = None,
    labels: tuple[str, ...] = (),
) -> Histogram:
    if buckets is None:
        return Histogram(name, doc, labelnames=labels, registry=registry)
    return Histogram(name, doc, labelnames=labels, registry=registry, buckets=buckets)


def gauge(registry: CollectorRegistry, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
    return Gauge(name, doc, labelnames=labels, registry=registry)
