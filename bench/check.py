"""``make bench-check``: short fan-out and ingest runs that fail when a same-run ratio falls
past its target (issue 12), so that whoever slows Pulse down finds out from their own change.

Short, not small: 5,000 clients over a 30-tick window (after the same tick 0 and warm-up as the
full run), and 200,000 ingested points over NATS and HTTP. Each target is printed with its
figure; the exit status is 1 when any is missed. Not part of ``make test``: it needs the machine
to itself for about four minutes (docs/operations.md).
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.fanout import fanout_run
from bench.ingest import measure_ingest
from bench.report import table, write

FANOUT_CLIENTS = 5_000
FANOUT_TICKS = 30
INGEST_POINTS = 200_000
INGEST_BATCH = 5_000
INGEST_RATIO_TARGET = 0.8  # of the metrics-shaped COPY of the same run (ADR 14)


def ingest_verdicts(results: dict[str, Any]) -> list[tuple[str, bool, str]]:
    checks = []
    for route in ("nats", "http"):
        shaped = results[route]["ratio_to_shaped_copy"]
        bare = results[route]["ratio_to_bare_copy"]
        checks.append(
            (
                f"ingest over {route.upper()} >= {INGEST_RATIO_TARGET:g} x shaped COPY",
                shaped >= INGEST_RATIO_TARGET,
                f"{shaped:.2f} (bare COPY: {bare:.2f})",
            )
        )
    return checks


async def _check() -> int:
    print(f"bench-check: fan-out {FANOUT_CLIENTS:,} clients, then ingest {INGEST_POINTS:,} points")
    fanout = await fanout_run(clients=FANOUT_CLIENTS, window=FANOUT_TICKS)
    ingest = await measure_ingest(points=INGEST_POINTS, batch=INGEST_BATCH)
    verdicts = [(t["target"], t["met"], t["figures"]) for t in fanout["targets"]]
    verdicts += ingest_verdicts(ingest)
    path = write("bench-check", {"fanout": fanout, "ingest": ingest, "verdicts": verdicts})
    rows = [("met " if met else "MISSED", f"{what}: {figures}") for what, met, figures in verdicts]
    table([*rows, ("results", str(path))])
    missed = [what for what, met, _ in verdicts if not met]
    if missed:
        print(f"bench-check: {len(missed)} target(s) missed")
        return 1
    print("bench-check: every target met")
    return 0


def main() -> None:
    raise SystemExit(asyncio.run(_check()))


if __name__ == "__main__":
    main()
