"""``make bench [SCENARIO]``: benchmarks on this machine, results in bench/results/*.json.

Scenarios: ``ingest`` (points/s through NATS and HTTP to committed rows, against a bare COPY
of the same rows). Run with ``python -m bench ingest [--points N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench.ingest import run_ingest

SCENARIOS = {"ingest": run_ingest}


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("scenario", nargs="?", default="ingest", choices=sorted(SCENARIOS))
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5_000, help="points per producer message")
    args = parser.parse_args()
    sys.exit(asyncio.run(SCENARIOS[args.scenario](points=args.points, batch=args.batch)))


if __name__ == "__main__":
    main()
