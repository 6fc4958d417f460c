"""The one error body of Pulse's HTTP services and its handlers: every refusal is JSON with a
stable ``code``, whoever raised it (a route, Litestar, a bug)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import msgspec
import pytest
import structlog
from litestar import Litestar, get, post
from litestar.exceptions import HTTPException
from litestar.params import JSONBody, QueryParameter
from litestar.testing import TestClient, create_test_client
from pulse_contracts import SERIES_TOKEN_PATTERN
from pulse_contracts.accounts import Email
from pulse_contracts.text import StoredText
from pulse_runtime.web import (
    ERROR_HANDLERS,
    ApiError,
    ErrorBody,
    Refusals,
    invalid_parameter,
    missing_parameter,
)


class Item(msgspec.Struct, frozen=True, kw_only=True):
    index: int
    reason: str


class BatchErrorBody(ErrorBody, frozen=True, kw_only=True, omit_defaults=True):
    """A service's extension of the error body: the bad items of a refused batch."""

    errors: list[Item] | None = None


class BatchRefused(ApiError):
    def __init__(self, message: str, errors: list[Item]) -> None:
        super().__init__(400, "invalid_points", message)
        self.body = BatchErrorBody(code="invalid_points", message=message, errors=errors)


class Signup(msgspec.Struct):
    email: Email
    name: StoredText


@post("/signup")
async def signup(data: JSONBody[Signup]) -> str:
    return data.email


@get("/points")
async def points(
    type_: Annotated[str, QueryParameter(name="type", pattern=SERIES_TOKEN_PATTERN)],
    limit: Annotated[int, QueryParameter(ge=1)] = 10,
) -> str:
    return f"{type_} {limit}"


@post("/batch")
async def batch() -> None:
    raise BatchRefused("2 points refused", [Item(index=0, reason="NaN"), Item(index=3, reason="?")])


@get("/busy")
async def busy() -> None:
    raise ApiError(503, "busy", "try again", headers={"Retry-After": "1"})


@get("/when")
async def when() -> None:
    raise missing_parameter("from")


@get("/teapot")
async def teapot() -> None:
    raise HTTPException(status_code=418, detail="short and stout")


@get("/bug")
async def bug() -> None:
    raise RuntimeError("secret internals at /srv/pulse/thing.py line 12")


ROUTES = [signup, points, batch, busy, when, teapot, bug]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient[Litestar]]:
    with create_test_client(ROUTES, exception_handlers=ERROR_HANDLERS) as test_client:
        yield test_client


def test_a_route_refuses_with_its_own_code_status_and_headers(client: TestClient[Litestar]) -> None:
    response = client.get("/busy")
    assert (response.status_code, response.json()) == (
        503,
        {"code": "busy", "message": "try again"},
    )
    assert response.headers["retry-after"] == "1"


def test_a_service_may_extend_the_body_and_answers_with_its_own(
    client: TestClient[Litestar],
) -> None:
    response = client.post("/batch")
    assert response.status_code == 400
    assert response.content == (
        b'{"code":"invalid_points","message":"2 points refused",'
        b'"errors":[{"index":0,"reason":"NaN"},{"index":3,"reason":"?"}]}'
    )


def test_a_missing_parameter_is_named(client: TestClient[Litestar]) -> None:
    response = client.get("/when")
    assert (response.status_code, response.json()) == (
        400,
        {
            "code": "missing_parameter",
            "message": "from: this parameter is required",
            "parameter": "from",
        },
    )


def test_a_parameter_breaking_its_pattern_gets_the_rule_under_its_public_name(
    client: TestClient[Litestar],
) -> None:
    response = client.get("/points", params={"type": "cpu load"})
    assert (response.status_code, response.json()) == (
        400,
        {
            "code": "invalid_parameter",
            "message": "type: use 1-64 of A-Z a-z 0-9 _ -",
            "parameter": "type",
        },
    )
    limit = client.get("/points", params={"type": "cpu", "limit": "0"})
    assert limit.json() == {
        "code": "invalid_parameter",
        "message": "limit: Expected `int` >= 1",
        "parameter": "limit",
    }
    assert client.get("/points", params={"type": "cpu"}).text == "cpu 10"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"email": "nobody", "name": "n"},
            {
                "code": "invalid_parameter",
                "message": "email: not an email address",
                "parameter": "email",
            },
        ),
        (
            {"email": "a@b.c", "name": "n\u0000"},
            {
                "code": "invalid_parameter",
                "message": "name: must not contain NUL (U+0000)",
                "parameter": "name",
            },
        ),
        (
            [1, 2],
            {"code": "bad_request", "message": "request body: Expected `object`, got `array`"},
        ),
    ],
    ids=["email", "nul", "not-an-object"],
)
def test_a_body_breaking_its_rules_is_a_400_in_plain_words(
    client: TestClient[Litestar],
    body: object,
    expected: dict[str, str],
) -> None:
    response = client.post("/signup", json=body)
    assert (response.status_code, response.json()) == (400, expected)


def test_an_absent_body_is_required(client: TestClient[Litestar]) -> None:
    response = client.post("/signup")
    assert (response.status_code, response.json()) == (
        400,
        {"code": "bad_request", "message": "request body: required"},
    )


def test_litestar_refusals_get_a_code_by_status_and_keep_their_headers(
    client: TestClient[Litestar],
) -> None:
    missing = client.get("/nowhere")
    assert (missing.status_code, missing.json()) == (
        404,
        {"code": "not_found", "message": "Not Found"},
    )
    wrong_method = client.delete("/points")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "method_not_allowed")
    assert wrong_method.headers["allow"] == "GET, OPTIONS"
    unusual = client.get("/teapot")
    assert (unusual.status_code, unusual.json()) == (
        418,
        {"code": "error", "message": "short and stout"},
    )


def test_a_bug_is_logged_with_its_traceback_and_answered_without_it(
    client: TestClient[Litestar],
) -> None:
    with structlog.testing.capture_logs() as logs:
        response = client.get("/bug")
    assert (response.status_code, response.json()) == (
        500,
        {"code": "internal_error", "message": "something went wrong; it has been logged"},
    )
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    [line] = [line for line in logs if line["event"] == "unhandled error"]
    assert line["log_level"] == "error"
    assert isinstance(line["exc_info"], RuntimeError)


def test_an_error_body_leaves_out_what_it_does_not_have() -> None:
    assert msgspec.json.encode(ErrorBody(code="c", message="m")) == b'{"code":"c","message":"m"}'
    assert invalid_parameter("to", "must be later").body == ErrorBody(
        code="invalid_parameter", message="to: must be later", parameter="to"
    )
    assert msgspec.json.encode(BatchErrorBody(code="c", message="m")) == (
        b'{"code":"c","message":"m"}'
    )


def test_refusals_document_each_status_with_the_error_body() -> None:
    refusals = Refusals({401: "No credentials (`unauthorized`)", 503: "Away (`unavailable`)"})
    responses = refusals(401, 503)
    assert sorted(responses) == [401, 503]
    assert responses[503].description == "Away (`unavailable`)"
    assert all(spec.data_container is ErrorBody for spec in responses.values())
    assert refusals() == {}
    with pytest.raises(KeyError):
        refusals(418)  # a status the service never said when it answers
    extended = Refusals({400: "Refused (`invalid_points`)"}, body=BatchErrorBody)
    assert extended(400)[400].data_container is BatchErrorBody
