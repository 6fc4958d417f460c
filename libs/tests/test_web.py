"""The HTTP edge's request class: a body msgspec cannot take apart is the client's error."""

from __future__ import annotations

import msgspec
import pytest
from litestar import post
from litestar.params import JSONBody
from litestar.testing import create_test_client
from pulse_runtime.web import UntrustedBodyRequest


class Login(msgspec.Struct):
    email: str
    password: str


@post("/login")
async def login(data: JSONBody[Login]) -> str:
    return data.email


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            b'{"email": "a", "password": "b", "x": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
            "malformed body: nested too deeply to decode",
        ),
        (
            b'{"email": "a", "password": "b\xff"}',
            "malformed body: invalid UTF-8 in a string (invalid start byte)",
        ),
    ],
    ids=["too-deep", "invalid-utf8"],
)
def test_an_undecodable_json_body_is_a_400_not_a_500(body: bytes, reason: str) -> None:
    with create_test_client([login], request_class=UntrustedBodyRequest) as client:
        response = client.post("/login", content=body, headers={"Content-Type": "application/json"})
        good = client.post("/login", json={"email": "a@b.c", "password": "p"})
    assert (response.status_code, response.json()["detail"]) == (400, reason)
    assert (good.status_code, good.text) == (201, "a@b.c")
