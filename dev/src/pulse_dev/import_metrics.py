"""``python -m pulse_dev.import_metrics FILE --api-key pk_…``: send a file of historical points
to ingest's ``POST /api/v1/imports``, streamed, showing the bytes sent, then the summary.

The format follows the file's name (``.csv``: CSV; ``.ndjson``, ``.jsonl``: JSON lines) unless
``--format`` says it. The import's steps (``chunk 1``, ``chunk 2`` …) appear on the dashboard's
Logs page as they happen, under the trace id this prints. Exit status 0 when the file was
imported, 1 when it was refused (the answer is printed), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

CONTENT_TYPES = {"csv": "text/csv", "ndjson": "application/x-ndjson"}
FORMAT_OF_SUFFIX = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson"}
PIECE_BYTES = 256 * 1024


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pulse_dev.import_metrics",
        description="Import a CSV or JSON-lines file of historical points into Pulse.",
    )
    parser.add_argument("file", type=Path, help="the file (.csv, .ndjson or .jsonl)")
    parser.add_argument("--url", default="http://127.0.0.1:8001", help="ingest's HTTP address")
    parser.add_argument("--api-key", required=True, help="an API key with ingest:metrics")
    parser.add_argument("--format", choices=sorted(CONTENT_TYPES), help="default: by suffix")
    parser.add_argument("--quiet", action="store_true", help="no progress, only the summary")
    return parser.parse_args(argv)


def sent_in_pieces(file: IO[bytes], total: int, progress: IO[str] | None) -> Iterator[bytes]:
    """The file a piece at a time, reporting the bytes sent so far on ``progress``."""
    sent = 0
    started = time.monotonic()
    while piece := file.read(PIECE_BYTES):
        yield piece
        sent += len(piece)
        if progress is not None:
            elapsed = max(time.monotonic() - started, 1e-6)
            share = 100 * sent / total if total else 100.0
            progress.write(
                f"\rsent {sent / 1e6:.1f} of {total / 1e6:.1f} MB ({share:.0f}%),"
                f" {sent / 1e6 / elapsed:.1f} MB/s"
            )
            progress.flush()
    if progress is not None:
        progress.write("\n")


def send(
    url: str, api_key: str, path: Path, content_type: str, progress: IO[str] | None
) -> tuple[int, bytes]:
    """POST the file; the status and body of the answer."""
    target = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(target.netloc, timeout=600)
    total = path.stat().st_size
    try:
        with path.open("rb") as file:
            connection.putrequest("POST", target.path.rstrip("/") + "/api/v1/imports")
            connection.putheader("Authorization", f"Bearer {api_key}")
            connection.putheader("Content-Type", content_type)
            connection.putheader("Content-Length", str(total))
            connection.endheaders()
            try:
                for piece in sent_in_pieces(file, total, progress):
                    connection.send(piece)
            except OSError:
                pass  # refused midway (413, 422): the answer tells why
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    path: Path = arguments.file
    row_format = arguments.format or FORMAT_OF_SUFFIX.get(path.suffix.lower())
    if row_format is None:
        print(f"{path}: say --format csv or --format ndjson", file=sys.stderr)
        return 2
    if not path.is_file():
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    progress = None if arguments.quiet else sys.stderr
    try:
        status, body = send(
            arguments.url, arguments.api_key, path, CONTENT_TYPES[row_format], progress
        )
    except OSError as exc:
        print(f"cannot reach ingest at {arguments.url}: {exc}", file=sys.stderr)
        return 1
    try:
        answer = json.dumps(json.loads(body), indent=2)
    except ValueError:
        answer = body.decode("utf-8", "replace")
    if status == 201:
        print(answer)
        return 0
    print(f"refused ({status}):\n{answer}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
