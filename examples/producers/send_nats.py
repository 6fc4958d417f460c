"""Publish metric points to Pulse over NATS with nats-py: request/reply, batches, safe retries.

    python send_nats.py                       # 60 points of the last minute, JSON, one request
    python send_nats.py --format msgpack      # the same batch as msgpack (needs msgspec)
    python send_nats.py --fire-and-forget     # plain publish: no answer, no retry

Needs ``pip install nats-py`` (and ``msgspec`` for ``--format msgpack``). The server comes from
``PULSE_NATS_URL`` (default ``nats://127.0.0.1:4222``); in production a producer has its own NATS
user, e.g. ``nats://producer:<password>@nats.example.com:4222``. See docs/producers.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

SUBJECT = "ingest.metrics"
REQUEST_TIMEOUT_S = 10.0  # longer than ingest's JetStream publish timeout (5 s by default)
ATTEMPTS = 5


class Refused(Exception):
    """Ingest refused the message (and dead-lettered it); resending the same bytes cannot help."""


def make_points(source: str, name: str, count: int) -> list[dict[str, Any]]:
    """``count`` points one second apart, ending now; ``time`` is a timezone-aware datetime."""
    now = datetime.now(UTC)
    return [
        {
            "time": now - timedelta(seconds=count - 1 - i),
            "source": source,
            "name": name,
            "value": round(20 + (i % 10) / 10, 2),
            "unit": "celsius",
            "tags": {"room": "kitchen"},
        }
        for i in range(count)
    ]


def encode(points: list[dict[str, Any]], fmt: str) -> tuple[bytes, str]:
    """The message body and its Content-Type: one array of points = one batch."""
    if fmt == "msgpack":
        # Only msgpack needs msgspec; it writes an aware datetime as the timestamp extension.
        import msgspec  # noqa: PLC0415

        return msgspec.msgpack.encode(points), "application/msgpack"
    body = [{**point, "time": point["time"].isoformat()} for point in points]  # RFC 3339
    return json.dumps(body).encode(), "application/json"


def messages(points: list[dict[str, Any]], fmt: str, max_payload: int) -> list[tuple[bytes, str]]:
    """Encode as few messages as possible, each under the server's max payload."""
    payload, content_type = encode(points, fmt)
    if len(payload) <= max_payload or len(points) == 1:
        return [(payload, content_type)]
    half = len(points) // 2
    return messages(points[:half], fmt, max_payload) + messages(points[half:], fmt, max_payload)


async def send(nc: Client, payload: bytes, content_type: str) -> int:
    """Request/reply: returns how many points JetStream stored; retries what may be transient."""
    headers = {
        "Content-Type": content_type,
        "traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01",
    }
    delay = 0.5
    for attempt in range(1, ATTEMPTS + 1):
        try:
            msg = await nc.request(SUBJECT, payload, timeout=REQUEST_TIMEOUT_S, headers=headers)
        except (NoRespondersError, NatsTimeoutError) as exc:
            # No ingest running, or no answer in time (the points may or may not be stored):
            # sending the same points again is safe, Pulse stores them once.
            problem = type(exc).__name__
            if attempt == ATTEMPTS:
                raise
        else:
            # Always JSON: {"accepted": n}, {"error": "…"} or {"error": "…", "retryable": true}.
            reply = json.loads(msg.data)
            if "error" not in reply:
                return int(reply["accepted"])
            if not reply.get("retryable") or attempt == ATTEMPTS:
                raise Refused(reply["error"])
            problem = reply["error"]  # valid points Pulse could not store just now
        print(f"attempt {attempt}: {problem}, retrying in {delay:g} s", file=sys.stderr)
        await asyncio.sleep(delay)
        delay *= 2
    raise AssertionError("unreachable")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    # A standalone program, not a Pulse service: the environment is read here directly.
    default_url = os.environ.get("PULSE_NATS_URL", "nats://127.0.0.1:4222")  # noqa: TID251
    parser.add_argument("--url", default=default_url)
    parser.add_argument("--format", choices=["json", "msgpack"], default="json")
    parser.add_argument("--source", default="python-example")
    parser.add_argument("--name", default="room_temp")
    parser.add_argument("--count", type=int, default=60, help="points to send (default 60)")
    parser.add_argument("--fire-and-forget", action="store_true", help="plain publish, no answer")
    args = parser.parse_args()

    nc = await nats.connect(args.url, name="pulse-example-producer")
    try:
        points = make_points(args.source, args.name, args.count)
        batches = messages(points, args.format, nc.max_payload)
        for payload, content_type in batches:
            if args.fire_and_forget:
                # Nobody tells you if these were refused (dead-lettered) or if ingest was down.
                await nc.publish(SUBJECT, payload, headers={"Content-Type": content_type})
            else:
                accepted = await send(nc, payload, content_type)
                print(f"{content_type}: {len(payload)} bytes -> accepted {accepted}")
        if args.fire_and_forget:
            await nc.flush()  # make sure the server has them before we disconnect
            print(f"published {len(points)} points in {len(batches)} message(s), no answer asked")
    except Refused as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 1
    except (NoRespondersError, NatsTimeoutError) as exc:
        print(
            f"no answer after {ATTEMPTS} attempts ({type(exc).__name__}): send again later",
            file=sys.stderr,
        )
        return 2
    finally:
        await nc.drain()
    start = points[0]["time"].strftime("%Y-%m-%dT%H:%M:%SZ")
    print(
        "read them back: GET http://127.0.0.1:8000/api/v1/metrics"
        f"?name={args.name}&source={args.source}&from={start}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
