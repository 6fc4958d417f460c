"""What the access log keeps of headers, query strings and JSON bodies: never a secret."""

from __future__ import annotations

from pulse_runtime.web.redaction import (
    MAX_HEADER_CHARS,
    MAX_HEADERS,
    redact_headers,
    redact_json,
    redact_query,
)

JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlLWJ5dGVz"
API_KEY = "pk_abc12345_S3cr3tS3cr3tS3cr3t"
REFRESH = "rt_R3fr3shR3fr3shR3fr3sh"


def test_credentials_in_headers_are_redacted_and_the_rest_kept() -> None:
    headers = redact_headers(
        [
            (b"Authorization", f"Bearer {JWT}".encode()),
            (b"proxy-authorization", b"Basic dXNlcjpodW50ZXIy"),
            (b"cookie", f"pulse_refresh={REFRESH}; theme=dark".encode()),
            (b"x-api-key", API_KEY.encode()),
            (b"X-Auth-Token", b"opaque-secret"),
            (b"user-agent", b"pytest"),
            (b"x-note", f"key is {API_KEY}".encode()),
        ]
    )
    assert headers == {
        "authorization": "Bearer [REDACTED]",
        "proxy-authorization": "Basic [REDACTED]",
        "cookie": "pulse_refresh=[REDACTED]; theme=[REDACTED]",
        "x-api-key": "[REDACTED]",
        "x-auth-token": "[REDACTED]",
        "user-agent": "pytest",
        "x-note": "key is [REDACTED]",
    }


def test_a_set_cookie_keeps_its_attributes_and_a_bare_credential_is_redacted_whole() -> None:
    headers = redact_headers(
        [
            (b"set-cookie", f"pulse_refresh={REFRESH}; Path=/api; HttpOnly".encode()),
            (b"authorization", b"just-a-secret"),
        ]
    )
    assert headers["set-cookie"] == "pulse_refresh=[REDACTED]; Path=/api; HttpOnly"
    assert headers["authorization"] == "[REDACTED]"


def test_headers_are_bounded_in_number_and_length_and_repeats_joined() -> None:
    many = [(f"x-h{i}".encode(), b"v") for i in range(MAX_HEADERS + 10)]
    assert len(redact_headers(many)) == MAX_HEADERS
    long = redact_headers([(b"x-long", b"a" * (MAX_HEADER_CHARS * 3))])["x-long"]
    assert len(long) == MAX_HEADER_CHARS + 1
    assert long.endswith("…")
    assert redact_headers([(b"accept", b"a"), (b"Accept", b"b")]) == {"accept": "a, b"}


def test_secret_query_parameters_are_redacted_and_the_others_kept_as_spelled() -> None:
    assert (
        redact_query(f"type=cpu&token={JWT}&access_token=x&api_key=y&key=z&from=2026-01-01T00%3A00")
        == "type=cpu&token=%5BREDACTED%5D&access_token=%5BREDACTED%5D&api_key=%5BREDACTED%5D"
        "&key=%5BREDACTED%5D&from=2026-01-01T00%3A00"
    )
    # A secret under an innocent name is found by its look, even percent-encoded.
    assert redact_query(f"next=%2Fhome%3Fx%3D{API_KEY}") == "next=/home%3Fx%3D%5BREDACTED%5D"
    assert redact_query("flag&PassWord=hunter2") == "flag&PassWord=%5BREDACTED%5D"
    assert redact_query("") == ""


def test_json_values_under_secret_names_are_redacted_at_any_depth() -> None:
    body = {
        "email": "ada@example.org",
        "password": "hunter2",
        "new_password": {"nested": "object too"},
        "profile": {
            "refresh_token": REFRESH,
            "items": [{"api_key": API_KEY}, {"client_secret": 1}],
        },
        "secret": "shown once",
        "key": API_KEY,
        "api_key": {"id": "k1", "name": "producer"},
        "access_token": JWT,
        "note": f"call me with {JWT}",
        "api_key_id": "k1",
        "private_key": "-----BEGIN PRIVATE KEY-----",
    }
    assert redact_json(body) == {
        "email": "ada@example.org",
        "password": "[REDACTED]",
        "new_password": "[REDACTED]",
        "profile": {
            "refresh_token": "[REDACTED]",
            "items": [{"api_key": "[REDACTED]"}, {"client_secret": "[REDACTED]"}],
        },
        "secret": "[REDACTED]",
        "key": "[REDACTED]",
        "api_key": "[REDACTED]",
        "access_token": "[REDACTED]",
        "note": "call me with [REDACTED]",
        "api_key_id": "k1",
        "private_key": "[REDACTED]",
    }


def test_json_is_made_storable_nul_nan_huge_integers_and_deep_nesting() -> None:
    assert redact_json({"a\x00b": "c\x00d", "n": float("nan"), "i": 1 << 70, "ok": 1 << 62}) == {
        "ab": "cd",
        "n": None,
        "i": str(1 << 70),
        "ok": 1 << 62,
    }
    deep: object = "bottom"
    for _ in range(100):
        deep = [deep]
    kept = redact_json(deep)
    depth = 0
    while isinstance(kept, list):
        kept = kept[0]
        depth += 1
    assert depth == 32
    assert kept == "…"
