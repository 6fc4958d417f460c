"""The gateway's OpenAPI document says what the gateway answers (schemathesis checks the live
answers against it: tests/contract/test_api_conformance.py; this pins the document itself)."""

from __future__ import annotations

from typing import Any

import pytest
from pulse_gateway.documents import openapi_document

DOCUMENT = openapi_document()
OPERATIONS = {
    f"{method.upper()} {path}": operation
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if isinstance(operation, dict) and "responses" in operation
}
ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}

# Every status each operation can answer: its success, the guard's (401 without a valid token,
# 403 without the role: admin, instructor, or any but student for the metrics), and its own
# refusals.
EXPECTED_STATUSES = {
    "GET /api/v1/metrics": {"200", "400", "401", "403", "503", "504"},
    "GET /api/v1/metrics/catalog": {"200", "401", "403", "503", "504"},
    "POST /api/v1/auth/login": {"200", "400", "401", "413", "429", "503"},
    "POST /api/v1/auth/refresh": {"200", "400", "401", "413", "503"},
    "POST /api/v1/auth/logout": {"204", "400", "401", "413", "503"},
    "GET /api/v1/auth/me": {"200", "401"},
    "GET /api/v1/admin/users": {"200", "401", "403", "503"},
    "POST /api/v1/admin/users": {"201", "400", "401", "403", "409", "413", "503"},
    "PATCH /api/v1/admin/users/{user_id}": {
        "200",
        "400",
        "401",
        "403",
        "404",
        "409",
        "413",
        "503",
    },
    "POST /api/v1/admin/users/{user_id}/password": {
        "200",
        "400",
        "401",
        "403",
        "404",
        "413",
        "503",
    },
    "GET /api/v1/admin/api-keys": {"200", "401", "403", "503"},
    "POST /api/v1/admin/api-keys": {"201", "400", "401", "403", "413", "503"},
    "DELETE /api/v1/admin/api-keys/{api_key_id}": {"200", "400", "401", "403", "404", "503"},
    # The classroom: a class the caller may not see is 404 (class_not_found).
    "GET /api/v1/classes": {"200", "401", "503", "504"},
    "POST /api/v1/classes": {"201", "400", "401", "403", "409", "413", "503", "504"},
    "GET /api/v1/classes/{class_id}": {"200", "400", "401", "404", "503", "504"},
    "PATCH /api/v1/classes/{class_id}": {"200", "400", "401", "403", "404", "413", "503", "504"},
    "POST /api/v1/classes/{class_id}/key": {"201", "400", "401", "403", "404", "503", "504"},
    "GET /api/v1/classes/{class_id}/overview": {"200", "400", "401", "403", "404", "503", "504"},
    "GET /api/v1/classes/{class_id}/progress": {"200", "400", "401", "403", "404", "503", "504"},
    "GET /api/v1/classes/{class_id}/hotspots": {"200", "400", "401", "403", "404", "503", "504"},
    "GET /api/v1/classes/{class_id}/students/{student_id}/timeline": {
        "200",
        "400",
        "401",
        "403",
        "404",
        "503",
        "504",
    },
    "GET /api/v1/classes/{class_id}/feed": {"200", "400", "401", "403", "404", "503", "504"},
    "GET /api/v1/notifications": {"200", "400", "401", "503", "504"},
    "GET /api/v1/notifications/unread": {"200", "401", "503", "504"},
    "POST /api/v1/notifications/mark": {"200", "400", "401", "413", "503", "504"},
    "POST /api/v1/notifications": {"201", "400", "401", "403", "413", "503", "504"},
    "GET /api/v1/alerts/rules": {"200", "401", "403", "503", "504"},
    "POST /api/v1/alerts/rules": {"201", "400", "401", "403", "413", "503", "504"},
    "POST /api/v1/alerts/rules/preview": {"200", "400", "401", "403", "413", "503", "504"},
    "GET /api/v1/alerts/rules/{rule_id}": {"200", "400", "401", "403", "404", "503", "504"},
    "PUT /api/v1/alerts/rules/{rule_id}": {"200", "400", "401", "403", "404", "413", "503", "504"},
    "DELETE /api/v1/alerts/rules/{rule_id}": {"204", "400", "401", "403", "404", "503", "504"},
    # The audit trail (admins): bad_cursor, bad_filter; trace_not_found, dead_letter_not_found.
    "GET /api/v1/admin/audit/access": {"200", "400", "401", "403", "503", "504"},
    "GET /api/v1/admin/audit/tasks": {"200", "400", "401", "403", "503", "504"},
    "GET /api/v1/admin/audit/traces/{trace_id}": {"200", "400", "401", "403", "404", "503", "504"},
    "GET /api/v1/admin/audit/dead-letters": {"200", "400", "401", "403", "503", "504"},
    "GET /api/v1/admin/audit/dead-letters/{letter_id}": {
        "200",
        "400",
        "401",
        "403",
        "404",
        "503",
        "504",
    },
    "POST /api/v1/admin/audit/dead-letters/replay": {
        "200",
        "400",
        "401",
        "403",
        "413",
        "503",
        "504",
    },
    "POST /api/v1/admin/audit/dead-letters/discard": {
        "200",
        "400",
        "401",
        "403",
        "413",
        "503",
        "504",
    },
}


def test_the_document_has_the_rest_operations_and_nothing_else() -> None:
    # Not the document's own routes (/schema/...), not the sockets (/ws, /ws/metrics: not
    # HTTP operations) nor the dashboard's static files.
    assert set(OPERATIONS) == set(EXPECTED_STATUSES)


@pytest.mark.parametrize("key", sorted(EXPECTED_STATUSES))
def test_each_operation_declares_every_status_it_answers(key: str) -> None:
    assert set(OPERATIONS[key]["responses"]) == EXPECTED_STATUSES[key]


@pytest.mark.parametrize("key", sorted(EXPECTED_STATUSES))
def test_every_error_is_documented_with_the_real_error_body(key: str) -> None:
    for status, response in OPERATIONS[key]["responses"].items():
        if int(status) >= 400:
            assert response["content"] == {"application/json": {"schema": ERROR_BODY}}, status
    body = DOCUMENT["components"]["schemas"]["ErrorBody"]
    assert set(body["properties"]) == {"code", "message", "parameter"}
    assert body["required"] == ["code", "message"]


def test_routes_behind_a_login_say_so() -> None:
    assert DOCUMENT["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    public = {"POST /api/v1/auth/login", "POST /api/v1/auth/refresh"}
    for key, operation in OPERATIONS.items():
        expected: list[dict[str, list[str]]] | None = None if key in public else [{"bearer": []}]
        assert operation.get("security") == expected, key


def test_refresh_answers_200_and_logout_204_without_a_body() -> None:
    assert "201" not in OPERATIONS["POST /api/v1/auth/refresh"]["responses"]
    no_content: dict[str, Any] = OPERATIONS["POST /api/v1/auth/logout"]["responses"]["204"]
    assert "content" not in no_content
    # Both take their refresh token from the body or, for browsers, from the cookie.
    for key in ("POST /api/v1/auth/refresh", "POST /api/v1/auth/logout"):
        assert OPERATIONS[key]["requestBody"]["required"] is False, key


def test_ids_in_paths_are_uuids() -> None:
    for key in (
        "PATCH /api/v1/admin/users/{user_id}",
        "DELETE /api/v1/admin/api-keys/{api_key_id}",
    ):
        (parameter,) = OPERATIONS[key]["parameters"]
        assert parameter["schema"] == {"type": "string", "format": "uuid"}, key


def test_text_stored_by_auth_refuses_nul_in_the_document_too() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    for schema, field in (("LoginBody", "email"), ("NewUser", "email"), ("NewApiKey", "name")):
        assert "\\x00" in schemas[schema]["properties"][field]["pattern"], (schema, field)
