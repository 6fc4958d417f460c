"""What ingest tells producers about itself, generated from the code: the AsyncAPI document of
the NATS subjects they publish to, and the schema of what they send (for both documents).

FastStream describes the subscribers (subject, queue group, description) from the real broker.
The handlers read the raw bytes (to dead-letter a bad message exactly as it came), so FastStream
cannot see what they take: the payloads and replies come from the contracts' Structs, the same
ones the validator decodes with. ``python -m pulse_ingest.documents docs/schemas`` writes both
documents (``make schemas``); a test fails when the committed copies drift from the code.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import msgspec
from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI
from litestar.openapi.spec import Operation
from pulse_contracts import CONTENT_TYPE_HEADER, MSGPACK, IngestAck, ProducerMetrics, subjects
from pulse_contracts.classroom import EventsAck, ProducerEvents
from pulse_runtime.generated import rendered, write_generated
from pulse_runtime.tracing import TRACEPARENT

TITLE = "Pulse ingest"
VERSION = "1.0.0"
ASYNCAPI_FILE = "ingest.asyncapi.json"
OPENAPI_FILE = "ingest.openapi.json"
_SCHEMAS = "#/components/schemas/"
_SERVER = "pulse"

PRODUCER_MESSAGES: dict[str, tuple[str, object, type[msgspec.Struct]]] = {
    subjects.INGEST_METRICS: ("ProducerMetrics", ProducerMetrics, IngestAck),
    subjects.INGEST_EVENTS: ("ProducerEvents", ProducerEvents, EventsAck),
}
"""For each subject producers publish to: the name and type of what they send, and the reply a
request gets. A new subscriber without an entry here fails :func:`asyncapi_document`."""

_HEADERS = {
    "type": "object",
    "properties": {
        CONTENT_TYPE_HEADER: {
            "type": "string",
            "enum": ["application/json", MSGPACK],
            "description": "The encoding of the payload; JSON when absent.",
        },
        TRACEPARENT: {
            "type": "string",
            "description": "W3C trace context, carried through every hop into the stored rows;"
            " ingest starts a trace without one.",
        },
    },
}


def _clean(schema: Any) -> Any:
    """msgspec copies docstrings as they are indented in the source: dedent them."""
    if isinstance(schema, dict):
        return {
            key: inspect.cleandoc(value)
            if key == "description" and isinstance(value, str)
            else _clean(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_clean(item) for item in schema]
    return schema


def _schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON schema of each producer payload by name, and of everything they refer to."""
    names = [name for name, _, _ in PRODUCER_MESSAGES.values()]
    types = [payload for _, payload, _ in PRODUCER_MESSAGES.values()]
    replies = [reply for _, _, reply in PRODUCER_MESSAGES.values()]
    found, components = msgspec.json.schema_components(
        [*types, *replies], ref_template=_SCHEMAS + "{name}"
    )
    payloads = dict(zip(names, found[: len(names)], strict=True))
    return _clean(payloads), _clean(components)


def producer_payload_schema(subject: str) -> dict[str, Any]:
    """The JSON schema of what producers send on ``subject``, whole (no references): for the
    ``POST /api/v1/metrics`` and ``POST /api/v1/events`` bodies of ingest's OpenAPI document,
    which take the same."""
    name = PRODUCER_MESSAGES[subject][0]
    payloads, components = _schemas()

    def inline(schema: Any) -> Any:
        if isinstance(schema, dict):
            ref = schema.get("$ref")
            if isinstance(ref, str) and ref.startswith(_SCHEMAS):
                return inline(components[ref.removeprefix(_SCHEMAS)])
            return {key: inline(value) for key, value in schema.items()}
        if isinstance(schema, list):
            return [inline(item) for item in schema]
        return schema

    inlined: dict[str, Any] = inline(payloads[name])
    return inlined


def producer_upload(subject: str, description: str) -> type[Operation]:
    """The OpenAPI operation of a route whose body is what producers send on ``subject``: it
    reads the body as bytes (JSON or msgpack by ``Content-Type``, decoded by the same validator
    as the NATS subscriber), so Litestar cannot see what it takes; this says it."""

    @dataclass
    class ProducerUpload(Operation):
        def to_schema(self) -> dict[str, Any]:
            schema = super().to_schema()
            payload = producer_payload_schema(subject)
            schema["requestBody"] = {
                "description": description,
                "required": True,
                "content": {media: {"schema": payload} for media in ("application/json", MSGPACK)},
            }
            return schema

    return ProducerUpload


def asyncapi_document(broker: NatsBroker) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``broker``'s subscribers, as producers see them.

    The server is named, not located: the document is the same for every deployment (and for
    the copy in docs/), and tells nobody where an internal NATS server lives.
    """
    specification = AsyncAPI(
        broker,
        title=f"{TITLE} (NATS)",
        version=VERSION,
        description="What producers publish to Pulse over NATS (core subjects; request/reply"
        " to learn the outcome). Over HTTP, the same points go to `POST /api/v1/metrics` and"
        " the same events to `POST /api/v1/events` (ingest's OpenAPI document).",
        schema_version="3.0.0",
    ).to_specification()
    document: dict[str, Any] = msgspec.json.decode(specification.to_json())
    payloads, schemas = _schemas()
    document["servers"] = {
        _SERVER: {
            "host": "localhost:4222",
            "protocol": "nats",
            "description": "The deployment's NATS server (PULSE_NATS_URL); `make run` starts"
            " one on localhost:4222.",
        }
    }
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    for key, channel in document["channels"].items():
        address = channel["address"]
        if address not in PRODUCER_MESSAGES:
            raise ValueError(f"ingest subscribes to {address!r} but says nothing of its payload")
        payload, _, reply = PRODUCER_MESSAGES[address]
        channel["servers"] = [{"$ref": f"#/servers/{_SERVER}"}]
        channel["messages"] = {payload: {"$ref": f"#/components/messages/{payload}"}}
        messages[payload] = {
            "name": payload,
            "title": payload,
            "summary": channel.get("description", ""),
            "contentType": "application/json",
            "headers": _HEADERS,
            "payload": {"$ref": _SCHEMAS + payload},
        }
        reply_channel = f"{key}.reply"
        answer = reply.__name__
        channels[reply_channel] = {
            "address": None,  # the requester's inbox: NATS request/reply picks it
            "description": f"The reply to a request on {address} (JSON).",
            "messages": {answer: {"$ref": f"#/components/messages/{answer}"}},
        }
        messages[answer] = {
            "name": answer,
            "title": answer,
            "contentType": "application/json",
            "payload": {"$ref": _SCHEMAS + answer},
        }
        operation = document["operations"][key]
        operation["messages"] = [{"$ref": f"#/channels/{key}/messages/{payload}"}]
        operation["reply"] = {
            "channel": {"$ref": f"#/channels/{reply_channel}"},
            "messages": [{"$ref": f"#/channels/{reply_channel}/messages/{answer}"}],
        }
    document["channels"] |= channels
    document["components"] = {"messages": messages, "schemas": schemas | payloads}
    return document


def describing_asyncapi() -> dict[str, Any]:
    """The document of a service built from defaults (nothing is started or connected)."""
    from .app import IngestService  # noqa: PLC0415 - the service imports this module
    from .settings import Settings  # noqa: PLC0415

    return asyncapi_document(IngestService(Settings.from_environ({})).broker)


def describing_openapi() -> dict[str, Any]:
    from .http import describing_app  # noqa: PLC0415 - the app imports this module

    document: dict[str, Any] = msgspec.json.decode(
        msgspec.json.encode(describing_app().openapi_schema.to_schema())
    )
    return document


def generated_files() -> dict[str, str]:
    return {
        ASYNCAPI_FILE: rendered(describing_asyncapi()),
        OPENAPI_FILE: rendered(describing_openapi()),
    }


def main(argv: list[str] | None = None) -> None:
    write_generated("pulse_ingest.documents", generated_files, argv)


if __name__ == "__main__":
    main()
