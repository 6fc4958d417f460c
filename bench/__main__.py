"""``make bench [SCENARIO]``: benchmarks on this machine, results in bench/results/*.json.

Scenarios: ``ingest`` (points/s through NATS and HTTP to committed rows, against a bare COPY
and a metrics-shaped COPY of the same rows), ``history`` (query latency over 10,000,000 rows)
and ``fanout`` (WebSocket clients at 1 Hz against a bare ``websockets.broadcast`` server),
``dashboard`` (the browser app: bundle size, first chart, main-thread load over ``--minutes``),
``startup`` (from ``make run`` to a live cpu line in the browser, ``--runs`` times on one
data directory) and ``resume`` (``--clients`` drop at once and all come back with
``resume_from``: time until all are live again, and what it costs JetStream),
``events`` (notebook events/s through NATS to committed rows, against a bare COPY of the
same rows into the same tables), ``class-feed`` (event → instructor's socket latency,
``--clients`` sockets on one class and, with ``--many-classes``, one socket on each of as
many classes; ``--rate`` events/s per class) and ``class-overview`` (the class overview of
500 students x 100 cells over 1,000,000 events, over NATS and through the gateway,
``--runs`` times), ``notifications`` (created → delivered with ``--clients`` of ``--users``
online, a notification to everyone, the unread count of a full inbox), ``alerts`` (10,000
series at 1 Hz against 1,000 alert rules: the alerts process's CPU over ``--seconds``),
``accesslog`` (gateway request p50/p99 with the access log on and off, ``--requests`` of each
kind), ``cluster`` (as root: ingest through a 3-node NATS cluster with R3 streams against one
node, same services, same run).
``make bench`` runs all;
``make bench ARGS="ingest --points 200000"`` or ``make bench ARGS="fanout --clients 10000"``
one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bench.accesslog import run_accesslog
from bench.alerts import run_alerts
from bench.class_feed import run_class_feed
from bench.class_overview import run_class_overview
from bench.cluster import run_cluster
from bench.dashboard import run_dashboard
from bench.events import run_events
from bench.fanout import run_fanout
from bench.history import run_history
from bench.ingest import run_ingest
from bench.notifications import run_notifications
from bench.resume import run_resume
from bench.startup import run_startup

SCENARIOS = (
    "ingest",
    "events",
    "history",
    "fanout",
    "dashboard",
    "startup",
    "resume",
    "class-feed",
    "class-overview",
    "notifications",
    "alerts",
    "accesslog",
    "cluster",
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("scenario", nargs="?", choices=SCENARIOS, help="default: all")
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument(
        "--batch", type=int, default=None, help="points (5,000) or events (100) per message"
    )
    parser.add_argument("--events", type=int, default=200_000, help="events: how many")
    parser.add_argument(
        "--clients", type=int, help="fanout, resume: WebSocket clients (1000); class-feed: 100"
    )
    parser.add_argument(
        "--ticks", type=int, default=60, help="fanout: ticks in the measured window"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        help="fanout: new gateways (1); startup: runs (2); class-overview: questions (200)",
    )
    parser.add_argument(
        "--stalled", action="store_true", help="fanout: again with one client that stops reading"
    )
    parser.add_argument(
        "--two-gateways", action="store_true", help="fanout: again, split over two gateways"
    )
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="dashboard: how long the page stays open"
    )
    parser.add_argument(
        "--down", type=float, default=3.0, help="resume: seconds the clients stay away"
    )
    parser.add_argument(
        "--kept-frames",
        type=int,
        help="resume: the gateway's PULSE_WS_RESUME_FRAMES (0: every resume reads the stream)",
    )
    parser.add_argument(
        "--rate", type=float, default=5.0, help="class-feed: events a second per class"
    )
    parser.add_argument(
        "--seconds", type=float, default=30.0, help="class-feed, alerts: the measured window"
    )
    parser.add_argument(
        "--many-classes",
        action="store_true",
        help="class-feed: also one socket on each of --clients classes",
    )
    parser.add_argument(
        "--users", type=int, default=10_000, help="notifications: accounts (10,000)"
    )
    parser.add_argument(
        "--notify-rate",
        type=float,
        default=50.0,
        help="notifications: notifications a second in the latency window",
    )
    parser.add_argument(
        "--requests", type=int, default=2_000, help="accesslog: requests of each kind, each way"
    )
    args = parser.parse_args()
    chosen = [args.scenario] if args.scenario else list(SCENARIOS)
    for name in chosen:
        points_batch = args.batch or 5_000
        if name == "ingest":
            status = asyncio.run(run_ingest(points=args.points, batch=points_batch))
        elif name == "events":
            status = asyncio.run(run_events(events=args.events, batch=args.batch or 100))
        elif name == "history":
            status = asyncio.run(run_history(points=args.points, batch=points_batch))
        elif name == "dashboard":
            status = asyncio.run(run_dashboard(minutes=args.minutes))
        elif name == "startup":
            status = asyncio.run(run_startup(runs=args.runs or 2))
        elif name == "class-feed":
            shapes = ["one-class", "many-classes"] if args.many_classes else ["one-class"]
            status = asyncio.run(
                run_class_feed(
                    clients=args.clients or 100,
                    rate=args.rate,
                    seconds=args.seconds,
                    shapes=shapes,
                )
            )
        elif name == "notifications":
            status = asyncio.run(
                run_notifications(
                    users=args.users,
                    clients=args.clients or 1_000,
                    rate=args.notify_rate,
                    seconds=args.seconds,
                )
            )
        elif name == "accesslog":
            status = asyncio.run(run_accesslog(requests=args.requests))
        elif name == "cluster":
            status = asyncio.run(run_cluster(points=args.points, batch=points_batch))
        elif name == "alerts":
            status = asyncio.run(run_alerts(seconds=args.seconds))
        elif name == "class-overview":
            status = asyncio.run(run_class_overview(runs=args.runs or 200))
        elif name == "resume":
            status = asyncio.run(
                run_resume(
                    clients=args.clients or 1_000, down_s=args.down, kept_frames=args.kept_frames
                )
            )
        else:
            status = asyncio.run(
                run_fanout(
                    clients=args.clients or 1_000,
                    ticks=args.ticks,
                    runs=args.runs or 1,
                    stalled=args.stalled,
                    two_gateways=args.two_gateways,
                )
            )
        if status:
            sys.exit(status)


if __name__ == "__main__":
    main()
