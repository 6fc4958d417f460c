"""Hostile input at the gateway's edge gets a 4xx that names what is wrong, never a 5xx; an
admin cannot disable or demote themselves whatever the spelling of their id."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.stack import PulseStack, bearer

pytestmark = pytest.mark.integration

NUL_EMAIL = "nul\u0000x@example.com"
PASSWORD = "a perfectly long password"


@pytest.fixture
def stack(make_stack: Any) -> PulseStack:
    stack: PulseStack = make_stack()
    stack.start(["auth", "gateway"])
    return stack


def refusal(response: httpx.Response) -> tuple[int, str, str | None]:
    body = response.json()
    return response.status_code, body["code"], body.get("parameter")


async def test_text_with_nul_is_refused_at_the_edge_naming_the_field(stack: PulseStack) -> None:
    """PostgreSQL cannot store a NUL: it used to reach auth and come back as a 503."""
    admin = bearer(await stack.token())
    url = stack["gateway"].url
    async with httpx.AsyncClient() as client:
        login = await client.post(
            url("/api/v1/auth/login"), json={"email": NUL_EMAIL, "password": PASSWORD}
        )
        user = await client.post(
            url("/api/v1/admin/users"),
            headers=admin,
            json={"email": NUL_EMAIL, "password": PASSWORD},
        )
        key = await client.post(
            url("/api/v1/admin/api-keys"),
            headers=admin,
            json={"name": "producer\u0000", "scopes": ["ingest:metrics"]},
        )
        history = {
            parameter: await client.get(
                url("/api/v1/metrics"),
                headers=admin,
                params={"type": "cpu", "from": "2026-11-22T10:00:00Z", parameter: "cpu\u0000"},
            )
            for parameter in ("type", "name", "source")
        }
    assert refusal(login) == (400, "invalid_parameter", "email")
    assert login.json()["message"] == "email: must not contain NUL (U+0000)"
    assert refusal(user) == (400, "invalid_parameter", "email")
    assert refusal(key) == (400, "invalid_parameter", "name")
    for parameter, response in history.items():
        assert refusal(response) == (400, "invalid_parameter", parameter), response.text


async def test_a_missing_body_says_so(stack: PulseStack) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            stack["gateway"].url("/api/v1/auth/login"),
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 400
    assert response.json() == {"code": "bad_request", "message": "request body: required"}


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,  # the outside test's nesting
        b'{"email": ' + b"[" * 2_000 + b"]" * 2_000 + b', "password": "x"}',
        b'{"email": "\xff@example.com", "password": "x"}',  # not UTF-8
    ],
    ids=["deep", "deep-in-a-field", "not-utf-8"],
)
async def test_bodies_that_cannot_be_taken_apart_are_a_bad_request(
    stack: PulseStack, body: bytes
) -> None:
    """msgspec raises RecursionError or UnicodeDecodeError for these, which Litestar took for
    an internal error (500)."""
    async with httpx.AsyncClient() as client:
        for path, headers in (
            ("/api/v1/auth/login", {}),
            ("/api/v1/admin/users", bearer(await stack.token())),
        ):
            response = await client.post(
                stack["gateway"].url(path),
                content=body,
                headers={"Content-Type": "application/json", **headers},
            )
            assert response.status_code == 400, (path, response.text)
            assert response.json()["code"] == "bad_request", response.text
            assert response.json()["message"].startswith("malformed body: "), response.text


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        # used to overflow the msgpack encoding of the query to persistence: a 500
        ({"max_points": str(2**64 + 1)}, "max_points"),
        # in year 10000 once in UTC: used to overflow datetime, a 500
        ({"to": "9999-12-31T23:59:59-23:59"}, "to"),
        ({"from": "0001-01-01T00:00:00+23:59"}, "from"),
    ],
)
async def test_numbers_and_times_out_of_range_are_refused(
    stack: PulseStack, query: dict[str, str], parameter: str
) -> None:
    params = {"type": "cpu", "from": "2026-11-22T10:00:00Z", **query}
    async with httpx.AsyncClient() as client:
        response = await client.get(
            stack["gateway"].url("/api/v1/metrics"),
            headers=bearer(await stack.token()),
            params=params,
        )
    assert refusal(response) == (400, "invalid_parameter", parameter), response.text


def spellings(user_id: str) -> list[str]:
    """Every way :class:`uuid.UUID` reads an id, the gateway's path parameter included."""
    hex_digits = user_id.replace("-", "")
    return [
        user_id.upper(),
        f"{{{user_id}}}",
        f"{{{user_id.upper()}}}",
        f"urn:uuid:{user_id}",
        hex_digits,
        hex_digits.upper(),
    ]


async def test_an_admin_cannot_disable_or_demote_themselves_in_any_spelling(
    stack: PulseStack,
) -> None:
    """The gateway compared ids as text and auth parsed them as UUIDs: `ABC…` passed the
    check and disabled its caller."""
    admin = bearer(await stack.token())
    url = stack["gateway"].url
    async with httpx.AsyncClient() as client:
        me = (await client.get(url("/api/v1/auth/me"), headers=admin)).json()
        for spelling in [me["id"], *spellings(me["id"])]:
            assert uuid.UUID(spelling) == uuid.UUID(me["id"])
            for change in (
                {"disabled": True},
                *({"role": r} for r in ("user", "instructor", "student")),
            ):
                response = await client.patch(
                    url(f"/api/v1/admin/users/{spelling}"), headers=admin, json=change
                )
                assert refusal(response) == (409, "cannot_change_self", None), (spelling, change)
        still = await client.get(url("/api/v1/auth/me"), headers=admin)
        assert still.status_code == 200
        assert still.json()["role"] == "admin"
        listed = (await client.get(url("/api/v1/admin/users"), headers=admin)).json()
        assert [(u["role"], u["disabled"]) for u in listed if u["id"] == me["id"]] == [
            ("admin", False)
        ]


async def test_ids_are_canonical_when_they_reach_auth(stack: PulseStack) -> None:
    admin = bearer(await stack.token())
    url = stack["gateway"].url
    async with httpx.AsyncClient() as client:
        created = await client.post(
            url("/api/v1/admin/users"),
            headers=admin,
            json={"email": "someone@pulse.test", "password": PASSWORD},
        )
        user_id = created.json()["id"]
        for spelling, disabled in zip(spellings(user_id), [True, False] * 3, strict=True):
            response = await client.patch(
                url(f"/api/v1/admin/users/{spelling}"), headers=admin, json={"disabled": disabled}
            )
            assert response.status_code == 200, (spelling, response.text)
            assert response.json()["id"] == user_id
            assert response.json()["disabled"] is disabled


BAD_IDS = [
    "nope",
    "1234",
    "URN:UUID:00000000-0000-0000-0000-000000000000",
    "00000000-0000-0000-0000-0000000000000",
    "00000000-0000-0000-0000-00000000000g",
    "00000000-0000-0000-0000-00000000000%00",
    "%F0%9F%92%A5",
    "%20",
]


async def test_an_invalid_id_is_not_found(stack: PulseStack) -> None:
    admin = bearer(await stack.token())
    url = stack["gateway"].url
    async with httpx.AsyncClient() as client:
        for bad_id in BAD_IDS:
            answers = [
                await client.patch(
                    url(f"/api/v1/admin/users/{bad_id}"), headers=admin, json={"disabled": True}
                ),
                await client.post(
                    url(f"/api/v1/admin/users/{bad_id}/password"),
                    headers=admin,
                    json={"password": PASSWORD},
                ),
                await client.delete(url(f"/api/v1/admin/api-keys/{bad_id}"), headers=admin),
            ]
            for response in answers:
                assert refusal(response) == (404, "not_found", None), response.request.url


async def test_a_change_that_changes_nothing_ends_no_session(stack: PulseStack) -> None:
    """A PATCH of one's own account that changes nothing used to revoke every token of it (an
    admin sending `{}` to their own id was logged out everywhere)."""
    admin = bearer(await stack.token())
    url = stack["gateway"].url
    async with httpx.AsyncClient() as client:
        me = (await client.get(url("/api/v1/auth/me"), headers=admin)).json()
        for change in ({}, {"role": "admin"}, {"disabled": False}):
            response = await client.patch(
                url(f"/api/v1/admin/users/{me['id']}"), headers=admin, json=change
            )
            assert response.status_code == 200, (change, response.text)
            still = await client.get(url("/api/v1/auth/me"), headers=admin)
            assert still.status_code == 200, (change, still.text)
