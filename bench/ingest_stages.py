"""The CPU stages of ingest and persistence, timed in this process on one producer message.

Complements the per-process CPU the ingest benchmark measures: what each process spends
beyond these stages is messaging (NATS reads and writes, JetStream publish and acks, the
consumer's fetch, asyncpg sending the COPY).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
from pulse_contracts import Codec
from pulse_ingest.validation import MetricsValidator
from pulse_persistence.writer import copy_rows

SOURCES = 10
ROUNDS = 40


def _us_per_point(step: Callable[[], object], points: int) -> float:
    step()  # warm
    best = float("inf")
    for _ in range(5):  # the best of five: the machine is shared, noise only adds
        started = time.perf_counter()
        for _ in range(ROUNDS):
            step()
        best = min(best, (time.perf_counter() - started) / ROUNDS)
    return round(best / points * 1e6, 3)


def stage_costs(batch: int) -> dict[str, float]:
    """Microseconds per point of each stage, for a message of ``batch`` points over
    :data:`SOURCES` series (the benchmark's messages)."""
    codec = Codec()
    validator = MetricsValidator(codec, max_future_skew_s=300.0, max_points=100_000)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    message = msgspec.msgpack.encode(
        [
            {
                "time": base + timedelta(milliseconds=i),
                "source": f"bench{i % SOURCES}",
                "name": "bench_stages",
                "value": float(i),
            }
            for i in range(batch)
        ]
    )
    now = datetime.now(UTC)
    batches = validator.validate(message, "application/msgpack", now)
    packed = [codec.pack(b) for b in batches]
    return {
        "ingest_validate": _us_per_point(
            lambda: validator.validate(message, "application/msgpack", now), batch
        ),
        "ingest_encode_series_batches": _us_per_point(
            lambda: [codec.pack(b) for b in batches], batch
        ),
        "persistence_decode": _us_per_point(
            lambda: [codec.series_batch.decode(p) for p in packed], batch
        ),
        "persistence_copy_encoding": _us_per_point(
            lambda: [copy_rows(1, b) for b in batches], batch
        ),
    }
