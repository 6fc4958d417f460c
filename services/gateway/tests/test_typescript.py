"""The dashboard's TypeScript types are generated from the gateway's schemas, and kept so."""

from __future__ import annotations

from pathlib import Path

import pytest
from pulse_gateway.typescript import generated_files, type_of

COMMITTED = Path(__file__).resolve().parents[2] / "dashboard" / "src" / "api"


@pytest.mark.parametrize(("name", "text"), sorted(generated_files().items()))
def test_the_committed_types_match_the_schemas(name: str, text: str) -> None:
    committed = (COMMITTED / name).read_text(encoding="utf-8")
    assert committed == text, f"{name} drifted from the gateway's schemas: run `make types`"


def test_every_rest_operation_and_frame_is_typed() -> None:
    files = generated_files()
    assert '"GET /api/v1/metrics": {' in files["api.gen.ts"]
    assert '"POST /api/v1/admin/api-keys": {' in files["api.gen.ts"]
    assert "export interface MetricsHistory {" in files["api.gen.ts"]
    for frame in ("Auth", "Subscribe", "Subscribed", "Data", "Gap", "Ready", "Error"):
        assert f"export interface {frame} {{" in files["ws.gen.ts"]
    assert "SLOW_CONSUMER: 4408," in files["ws.gen.ts"]


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string", "format": "date-time"}, "string"),
        ({"type": "integer"}, "number"),
        ({"oneOf": [{"type": "number"}, {"type": "null"}]}, "number | null"),
        ({"type": ["null", "string"], "enum": ["admin", "user", None]}, '"admin" | "user" | null'),
        ({"items": {"$ref": "#/components/schemas/User"}, "type": "array"}, "Array<User>"),
        ({"additionalProperties": {"type": "string"}, "type": "object"}, "Record<string, string>"),
        (
            {"type": "object", "properties": {"a b": {"type": "boolean"}}, "required": []},
            '{\n  "a b"?: boolean;\n}',
        ),
    ],
)
def test_json_schema_to_typescript(schema: dict[str, object], expected: str) -> None:
    assert type_of(schema) == expected


def test_an_unknown_construct_is_refused_rather_than_typed_loosely() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        type_of({"type": "tuple"})
    with pytest.raises(ValueError, match="unsupported reference"):
        type_of({"$ref": "https://example.com/schema"})
