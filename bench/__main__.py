"""``make bench [SCENARIO]``: benchmarks on this machine, results in bench/results/*.json.

Scenarios: ``ingest`` (points/s through NATS and HTTP to committed rows, against a bare COPY
of the same rows) and ``history`` (query latency over 10,000,000 rows). ``make bench`` runs
both; ``make bench ARGS="ingest --points 200000"`` one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench.history import run_history
from bench.ingest import run_ingest

SCENARIOS = {"ingest": run_ingest, "history": run_history}


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("scenario", nargs="?", choices=sorted(SCENARIOS), help="default: all")
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5_000, help="points per producer message")
    args = parser.parse_args()
    chosen = [args.scenario] if args.scenario else list(SCENARIOS)
    for name in chosen:
        status = asyncio.run(SCENARIOS[name](points=args.points, batch=args.batch))
        if status:
            sys.exit(status)


if __name__ == "__main__":
    main()
