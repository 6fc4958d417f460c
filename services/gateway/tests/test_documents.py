"""The gateway's OpenAPI document, /ws frames included, is generated from the app, and the copy
in docs/schemas/ (which the dashboard's types are generated from) is kept so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar, get
from litestar.openapi import OpenAPIConfig
from litestar.testing import TestClient
from pulse_contracts.classroom import ClassFeed
from pulse_gateway.documents import (
    OPENAPI_FILE,
    close_codes,
    describe_frames,
    frame_schemas,
    generated_files,
    openapi_document,
)
from pulse_gateway.live import frames as ws_frames

COMMITTED = Path(__file__).resolve().parents[3] / "docs" / "schemas"
DOCUMENT = openapi_document()
SCHEMAS = DOCUMENT["components"]["schemas"]
REF = "#/components/schemas/"


def test_the_committed_document_matches_the_app() -> None:
    committed = (COMMITTED / OPENAPI_FILE).read_text(encoding="utf-8")
    assert committed == generated_files()[OPENAPI_FILE], (
        f"docs/schemas/{OPENAPI_FILE} drifted from the gateway: run `make types`"
    )


def references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return found + [ref for item in value.values() for ref in references(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in references(item)]
    return []


def test_every_reference_names_a_component() -> None:
    refs = references(DOCUMENT)
    assert refs
    for ref in refs:
        assert ref.startswith(REF), ref
        assert ref.removeprefix(REF) in SCHEMAS, ref


def test_every_rest_operation_and_shape_is_described() -> None:
    assert "get" in DOCUMENT["paths"]["/api/v1/metrics"]
    assert "post" in DOCUMENT["paths"]["/api/v1/admin/api-keys"]
    assert SCHEMAS["MetricsHistory"]["type"] == "object"


def union_members(name: str) -> set[str]:
    return {option["$ref"].removeprefix(REF) for option in SCHEMAS[name]["anyOf"]}


def test_every_frame_is_a_component_under_its_struct_name() -> None:
    client = {frame.__name__ for frame in ws_frames.ClientFrame.__args__}
    server = {frame.__name__ for frame in ws_frames.ServerFrame.__args__}
    assert union_members("ClientFrame") == client
    assert union_members("ServerFrame") == server
    for name in ("Auth", "Subscribe", "Subscribed", "Data", "Gap", "Ready", "Error"):
        assert SCHEMAS[name]["type"] == "object", name
    # What nests in frames is there too.
    assert {"HistoryRequest", "History", "SeriesHistory", "Bucket", "Point"} <= SCHEMAS.keys()


def test_frames_are_told_apart_by_their_type_tag() -> None:
    mapping = SCHEMAS["ServerFrame"]["discriminator"]["mapping"]
    assert SCHEMAS["ServerFrame"]["discriminator"]["propertyName"] == "type"
    assert mapping["data"] == REF + "Data"
    assert SCHEMAS["Data"]["properties"]["type"] == {"enum": ["data"]}
    assert "type" in SCHEMAS["Data"]["required"]


def test_the_frames_schema_is_the_one_the_socket_decodes_with() -> None:
    """A frame the schema refuses, msgspec refuses too (the schema is msgspec's own)."""
    subscribe = SCHEMAS["Subscribe"]
    assert subscribe["additionalProperties"] is False
    assert subscribe["properties"]["channel"]["maxLength"] == 200
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"type": "subscribe", "channel": ""}', type=ws_frames.ClientFrame)


def test_close_codes_and_the_subprotocol_are_described() -> None:
    code = SCHEMAS["CloseCode"]
    named = dict(zip(code["x-enum-varnames"], code["enum"], strict=True))
    assert named == close_codes()
    assert named["SLOW_CONSUMER"] == 4408
    assert named["UNAUTHENTICATED"] == 4401
    assert SCHEMAS["Subprotocol"]["enum"] == [ws_frames.MSGPACK_SUBPROTOCOL]


class Error(msgspec.Struct):
    reason: str


def test_a_frame_named_like_a_rest_shape_is_refused_rather_than_shadowed() -> None:
    @get("/oops", sync_to_thread=False)
    def oops() -> Error:
        return Error(reason="x")

    app = Litestar([oops], openapi_config=OpenAPIConfig(title="t", version="1"))
    with pytest.raises(ValueError, match="/ws frames named like REST schemas: Error"):
        describe_frames(app)


def test_a_contract_struct_in_a_frame_and_a_rest_answer_is_one_component() -> None:
    """A class channel's ``events`` frame and the classroom's REST feed both carry
    NotebookEvent: one component, with the same (camelCase) wire names either way."""

    @get("/feed", sync_to_thread=False)
    def feed() -> ClassFeed:
        raise NotImplementedError

    app = Litestar([feed], openapi_config=OpenAPIConfig(title="t", version="1"))
    describe_frames(app)
    schemas = app.openapi_schema.to_schema()["components"]["schemas"]
    rest_names = set(schemas["NotebookEvent"]["properties"])
    frame_names = set(frame_schemas()["NotebookEvent"]["properties"])
    assert rest_names == frame_names
    assert {"eventId", "eventTime", "cellIndex", "hasError"} <= rest_names


def test_the_events_frame_carries_notebook_events() -> None:
    events = SCHEMAS["Events"]
    assert events["properties"]["type"] == {"enum": ["events"]}
    assert events["properties"]["events"]["items"] == {"$ref": REF + "NotebookEvent"}
    assert SCHEMAS["ServerFrame"]["discriminator"]["mapping"]["events"] == REF + "Events"


def test_the_served_document_has_the_frames() -> None:
    @get("/hello", sync_to_thread=False)
    def hello() -> str:
        return "hello"

    app = Litestar([hello], openapi_config=OpenAPIConfig(title="t", version="1"))
    describe_frames(app)
    with TestClient(app) as client:
        served = client.get("/schema/openapi.json").json()
    assert served["components"]["schemas"]["ClientFrame"] == msgspec.json.decode(
        msgspec.json.encode(frame_schemas()["ClientFrame"])
    )
