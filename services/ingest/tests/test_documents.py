"""Ingest's OpenAPI and AsyncAPI documents are generated from the code, and the copies in
docs/schemas/ are kept so (the live ones are compared in tests/contract/test_api_conformance)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from faststream.nats import NatsRouter
from litestar.testing import TestClient
from pulse_contracts import subjects
from pulse_ingest.app import IngestService
from pulse_ingest.documents import (
    asyncapi_document,
    describing_asyncapi,
    describing_openapi,
    generated_files,
)
from pulse_ingest.http import describing_app
from pulse_ingest.settings import Settings

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "schemas"


@pytest.mark.parametrize(("name", "text"), sorted(generated_files().items()))
def test_the_committed_documents_match_the_code(name: str, text: str) -> None:
    committed = (COMMITTED / name).read_text(encoding="utf-8")
    assert committed == text, f"docs/schemas/{name} drifted from the code: run `make schemas`"


def references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [ref for item in value.values() for ref in references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in references(item)]
    return []


def resolve(document: dict[str, Any], ref: str) -> Any:
    """What ``ref`` points at, through references to references."""
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    if isinstance(node, dict) and set(node) == {"$ref"}:
        return resolve(document, node["$ref"])
    return node


@pytest.mark.parametrize("document", [describing_asyncapi(), describing_openapi()])
def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = references(document)
    assert refs
    for ref in refs:
        resolve(document, ref)


def test_the_asyncapi_document_describes_what_producers_send_and_get_back() -> None:
    document = describing_asyncapi()
    assert document["asyncapi"] == "3.0.0"
    channel = document["channels"][subjects.INGEST_METRICS]
    assert channel["address"] == subjects.INGEST_METRICS
    assert channel["bindings"]["nats"]["queue"] == subjects.INGEST_QUEUE
    (message,) = channel["messages"].values()
    points = resolve(document, resolve(document, message["$ref"])["payload"]["$ref"])
    assert points["anyOf"] == [
        {"type": "array", "items": {"$ref": "#/components/schemas/MetricPoint"}, "minItems": 1},
        {"$ref": "#/components/schemas/MetricPoint"},
    ]
    point = document["components"]["schemas"]["MetricPoint"]
    assert point["required"] == ["time", "source", "name", "value"]
    operation = document["operations"][subjects.INGEST_METRICS]
    assert operation["action"] == "receive"
    (reply,) = operation["reply"]["messages"]
    ack = resolve(document, resolve(document, reply["$ref"])["payload"]["$ref"])
    assert ack["title"] == "IngestAck"
    # The same for every deployment: no NATS address of this machine's settings in it.
    assert document["servers"]["pulse"]["host"] == "localhost:4222"


def test_a_subscriber_that_says_nothing_of_its_payload_is_refused() -> None:
    service = IngestService(Settings.from_environ({}))
    router = NatsRouter()

    @router.subscriber("ingest.surprise")
    async def surprise(body: bytes) -> None: ...

    service.broker.include_router(router)
    with pytest.raises(ValueError, match=r"'ingest\.surprise' but says nothing of its payload"):
        asyncapi_document(service.broker)


def test_the_openapi_document_describes_the_upload_and_every_refusal() -> None:
    document = describing_openapi()
    # Not /schema, /asyncapi.json, probes.
    assert set(document["paths"]) == {
        "/api/v1/metrics",
        "/api/v1/events",
        "/api/v1/events/settings",
        "/api/v1/imports",
    }
    upload = document["paths"]["/api/v1/metrics"]["post"]
    assert set(upload["responses"]) == {"202", "400", "401", "403", "413", "503"}
    for status, response in upload["responses"].items():
        if int(status) >= 400:
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, status
    assert set(upload["requestBody"]["content"]) == {"application/json", "application/msgpack"}
    assert upload["security"] == [{"apiKey": []}]
    body = msgspec.json.encode(upload["requestBody"]["content"]["application/json"]["schema"])
    assert b"$ref" not in body  # whole: the points' schema has no component of its own here
    batch = next(
        option
        for option in upload["requestBody"]["content"]["application/json"]["schema"]["anyOf"]
        if option.get("type") == "array"
    )
    assert batch["minItems"] == 1  # an empty batch is refused: the document says so


def test_the_openapi_document_describes_the_bulk_import() -> None:
    document = describing_openapi()
    upload = document["paths"]["/api/v1/imports"]["post"]
    assert set(upload["responses"]) == {"201", "400", "401", "403", "413", "415", "422", "503"}
    assert "`import_row_invalid`" in upload["responses"]["422"]["description"]
    assert "`import_too_large`" in upload["responses"]["413"]["description"]
    assert set(upload["requestBody"]["content"]) == {"text/csv", "application/x-ndjson"}
    assert upload["security"] == [{"apiKey": []}]
    created = upload["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/ImportSummary"}
    error = document["components"]["schemas"]["ErrorBody"]["properties"]
    assert {"row", "summary"} <= set(error)


def test_the_openapi_document_describes_the_events_routes() -> None:
    document = describing_openapi()
    upload = document["paths"]["/api/v1/events"]["post"]
    assert set(upload["responses"]) == {"202", "400", "401", "403", "413", "503"}
    assert "`no_class`" in upload["responses"]["403"]["description"]
    assert "`too_many_events`" in upload["responses"]["413"]["description"]
    assert upload["security"] == [{"apiKey": []}]
    schema = upload["requestBody"]["content"]["application/msgpack"]["schema"]
    batch = next(option for option in schema["anyOf"] if option.get("type") == "array")
    assert (batch["minItems"], batch["maxItems"]) == (1, 100)
    assert batch["items"]["required"] == ["eventId", "eventType", "eventTime", "userId"]
    settings = document["paths"]["/api/v1/events/settings"]["get"]
    assert set(settings["responses"]) == {"200", "401", "403", "404", "503"}
    assert settings["security"] == [{"apiKey": []}]
    produced = document["components"]["schemas"]["ProducerSettings"]
    assert set(produced["properties"]) == {"classId", "collectCode", "pseudonymise", "salt"}


def test_a_method_a_route_does_not_take_is_answered_with_the_ones_it_does() -> None:
    """RFC 9110: a 405 lists the allowed methods (ingest's error handler once dropped them)."""
    with TestClient(describing_app()) as client:
        answer = client.request("TRACE", "/api/v1/metrics")
    assert answer.status_code == 405
    assert answer.json()["code"] == "method_not_allowed"
    assert set(answer.headers["allow"].split(", ")) == {"POST", "OPTIONS"}
