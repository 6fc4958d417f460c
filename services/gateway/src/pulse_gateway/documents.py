"""The gateway's OpenAPI document: what the dashboard's TypeScript types are generated from.

Litestar describes the REST routes. The ``/ws`` frames are no HTTP operation, so they join the
document's components from msgspec's JSON Schema of ``ws_frames.ClientFrame`` and
``ServerFrame`` (the Structs the socket decodes and encodes with): every frame under its
Struct's name, the two unions, the close codes and the msgpack subprotocol. The app serves the
same document at ``/schema/openapi.json``.

``python -m pulse_gateway.documents docs/schemas`` writes ``gateway.openapi.json``
(``make types``, which then runs openapi-typescript on it for the dashboard); a test fails when
the committed copy drifts from the app.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from pulse_runtime.generated import rendered, write_generated

from pulse_gateway.live import frames as ws_frames

OPENAPI_FILE = "gateway.openapi.json"
_SCHEMAS = "#/components/schemas/"
SHARED_WITH_REST = frozenset({"NotebookEvent", "Notification", "Link"})
"""Contract Structs that both a frame and a REST answer carry (a class channel's ``events``
frame, the classroom's feed and timeline routes; a ``notification`` frame and the inbox
routes): one component, msgspec's rendering of the
Struct (the same wire names as Litestar's, and the patterns a contract documents without its
decoder checking them, which Litestar leaves out)."""


def close_codes() -> dict[str, int]:
    """``ws_frames``' close codes by name: ``{"SLOW_CONSUMER": 4408, …}``."""
    return {
        name.removeprefix("CLOSE_"): value
        for name, value in vars(ws_frames).items()
        if name.startswith("CLOSE_") and isinstance(value, int)
    }


def frame_schemas() -> dict[str, Any]:
    """The JSON Schema of the ``/ws`` protocol, as components of an OpenAPI document."""
    (client, server), frames = msgspec.json.schema_components(
        [ws_frames.ClientFrame, ws_frames.ServerFrame], ref_template=_SCHEMAS + "{name}"
    )
    codes = sorted(close_codes().items(), key=lambda item: item[1])
    return {
        **frames,
        "ClientFrame": {"description": "What a client may send on /ws.", **client},
        "ServerFrame": {"description": "What the gateway sends on /ws.", **server},
        "CloseCode": {
            "description": "The codes the gateway closes /ws with (docs/websocket.md).",
            "type": "integer",
            "enum": [code for _, code in codes],
            "x-enum-varnames": [name for name, _ in codes],
        },
        "Subprotocol": {
            "description": "The WebSocket subprotocol a client offers to get the same frames"
            " as binary msgpack instead of JSON text.",
            "type": "string",
            "enum": [ws_frames.MSGPACK_SUBPROTOCOL],
        },
    }


def describe_frames(app: Litestar) -> None:
    """Add :func:`frame_schemas` to ``app``'s OpenAPI document.

    Litestar builds its document on first use and replaces any schemas its config names with
    the ones of its routes, so this builds it and adds to it: call it last on a new app, when
    every route is registered. A frame named like a REST shape is refused rather than shadowed,
    unless both are the same contract Struct (:data:`SHARED_WITH_REST`): then msgspec's one
    replaces Litestar's.
    """
    components = app.openapi_schema.components
    existing = dict(components.schemas or {})
    frames = frame_schemas()
    if clash := sorted(existing.keys() & frames.keys() - SHARED_WITH_REST):
        raise ValueError(f"/ws frames named like REST schemas: {', '.join(clash)}")
    # Litestar writes a mapping into the document as it is (JSON Schema, not its own classes).
    components.schemas = existing | frames


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the real app (its dependencies are never called)."""
    from .app import describing_app  # noqa: PLC0415 - the app factory imports the whole gateway

    document: dict[str, Any] = msgspec.json.decode(
        msgspec.json.encode(describing_app().openapi_schema.to_schema())
    )
    return document


def generated_files() -> dict[str, str]:
    return {OPENAPI_FILE: rendered(openapi_document())}


def main(argv: list[str] | None = None) -> None:
    write_generated("pulse_gateway.documents", generated_files, argv)


if __name__ == "__main__":
    main()
