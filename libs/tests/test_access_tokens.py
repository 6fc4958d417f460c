"""Access-token signing and, above all, the verifier's refusals.

Attack tokens are assembled by hand (base64url JSON + hmac/hashlib) so the tests do not depend on
PyJWT being willing to create them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pulse_runtime.access_tokens import (
    AccessClaims,
    InvalidToken,
    SigningKey,
    TokenVerifier,
    issue_access_token,
)

NOW = 1_750_000_000


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def json_segment(obj: object) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def make_claims(**overrides: Any) -> AccessClaims:
    fields: dict[str, Any] = {
        "sub": "u-123",
        "email": "ada@example.com",
        "role": "user",
        "iat": NOW,
        "exp": NOW + 300,
        "jti": "jti-1",
    }
    fields.update(overrides)
    return AccessClaims(**fields)


def payload_dict(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = msgspec.to_builtins(make_claims())
    payload.update(overrides)
    return payload


def ed25519_token(header: dict[str, Any], payload: dict[str, Any], key: SigningKey) -> str:
    """Sign arbitrary header/payload with ``key`` (by hand, bypassing issue_access_token)."""
    private = serialization.load_pem_private_key(key.private_pem(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    signing_input = f"{json_segment(header)}.{json_segment(payload)}"
    return f"{signing_input}.{b64url(private.sign(signing_input.encode()))}"


def hs256_token(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{json_segment(header)}.{json_segment(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def verifier(key: SigningKey) -> TokenVerifier:
    return TokenVerifier([key.public_jwk()])


def rejected(verifier: TokenVerifier, token: str, *, now: float = NOW + 10) -> InvalidToken:
    with pytest.raises(InvalidToken) as info:
        verifier.verify(token, now=now)
    exc = info.value
    if token:
        assert token not in str(exc)
        assert token not in repr(exc)
    return exc


# --- happy paths -------------------------------------------------------------------------------


def test_round_trip(key: SigningKey, verifier: TokenVerifier) -> None:
    claims = make_claims(role="admin")
    token = issue_access_token(claims, key)

    assert verifier.verify(token, now=NOW + 10) == claims
    header = json.loads(unb64url(token.split(".")[0]))
    assert header == {"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}


def test_public_jwk_shape(key: SigningKey) -> None:
    jwk = key.public_jwk()
    assert jwk.keys() == {"kty", "crv", "x", "kid", "alg", "use"}
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert jwk["kid"] == key.kid
    assert len(unb64url(jwk["x"])) == 32
    assert "d" not in jwk
    assert key.kid != SigningKey.generate().kid
    assert "PRIVATE" not in repr(key)


def test_pem_round_trip(key: SigningKey, verifier: TokenVerifier) -> None:
    pem = key.private_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    reloaded = SigningKey.from_pem(key.kid, pem)
    assert reloaded.public_jwk() == key.public_jwk()
    token = issue_access_token(make_claims(), reloaded)
    assert verifier.verify(token, now=NOW + 10).sub == "u-123"


def test_rotation(key: SigningKey) -> None:
    new_key = SigningKey.generate()
    verifier = TokenVerifier([key.public_jwk(), new_key.public_jwk()])
    assert verifier.kids() == {key.kid, new_key.kid}
    old_token = issue_access_token(make_claims(jti="old"), key)
    new_token = issue_access_token(make_claims(jti="new"), new_key)

    assert verifier.verify(old_token, now=NOW + 10).jti == "old"
    assert verifier.verify(new_token, now=NOW + 10).jti == "new"

    verifier.set_keys([new_key.public_jwk()])
    assert verifier.kids() == {new_key.kid}
    assert rejected(verifier, old_token).code == "unknown_kid"
    assert verifier.verify(new_token, now=NOW + 10).jti == "new"


def test_set_keys_ignores_other_key_types(key: SigningKey) -> None:
    rsa = {"kty": "RSA", "kid": "rsa-1", "n": "AQAB", "e": "AQAB"}
    x25519 = {"kty": "OKP", "crv": "X25519", "kid": "x-1", "x": key.public_jwk()["x"]}
    verifier = TokenVerifier([rsa, x25519, key.public_jwk()])
    assert verifier.kids() == {key.kid}


def test_add_key(key: SigningKey) -> None:
    verifier = TokenVerifier()
    assert verifier.kids() == frozenset()
    token = issue_access_token(make_claims(), key)
    assert rejected(verifier, token).code == "unknown_kid"

    verifier.add_key(key.public_jwk())
    assert verifier.verify(token, now=NOW + 10).sub == "u-123"
    verifier.add_key(key.public_jwk())  # same key again is harmless

    impostor = {**SigningKey.generate().public_jwk(), "kid": key.kid}
    with pytest.raises(ValueError):
        verifier.add_key(impostor)
    with pytest.raises(ValueError):
        verifier.add_key({"kty": "RSA", "kid": "rsa-1"})


def test_broken_ed25519_jwk_leaves_key_set_unchanged(key: SigningKey) -> None:
    verifier = TokenVerifier([key.public_jwk()])
    for broken in (
        {**key.public_jwk(), "x": "too-short"},
        {**key.public_jwk(), "alg": "HS256"},
        {k: v for k, v in key.public_jwk().items() if k != "kid"},
    ):
        with pytest.raises(ValueError):
            verifier.set_keys([SigningKey.generate().public_jwk(), broken])
        assert verifier.kids() == {key.kid}


# --- time --------------------------------------------------------------------------------------


def test_expired_and_leeway(key: SigningKey) -> None:
    verifier = TokenVerifier([key.public_jwk()], leeway_s=5)
    token = issue_access_token(make_claims(exp=NOW + 60), key)

    assert verifier.verify(token, now=NOW + 60 + 4).sub == "u-123"  # within leeway
    assert rejected(verifier, token, now=NOW + 60 + 5).code == "expired"
    assert rejected(verifier, token, now=NOW + 3600).code == "expired"
    strict = TokenVerifier([key.public_jwk()], leeway_s=0)
    assert rejected(strict, token, now=NOW + 60).code == "expired"


def test_not_yet_valid(key: SigningKey, verifier: TokenVerifier) -> None:
    token = issue_access_token(make_claims(iat=NOW + 100, exp=NOW + 400), key)
    assert verifier.verify(token, now=NOW + 96).sub == "u-123"  # within leeway
    assert rejected(verifier, token, now=NOW).code == "not_yet_valid"

    header = {"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}
    with_nbf = ed25519_token(header, payload_dict(nbf=NOW + 100), key)
    assert rejected(verifier, with_nbf, now=NOW).code == "not_yet_valid"


# --- forgeries ---------------------------------------------------------------------------------


def test_tampered_payload(key: SigningKey, verifier: TokenVerifier) -> None:
    header, _, signature = issue_access_token(make_claims(), key).split(".")
    forged = f"{header}.{json_segment(payload_dict(role='admin'))}.{signature}"
    assert rejected(verifier, forged).code == "bad_signature"


def test_tampered_signature(key: SigningKey, verifier: TokenVerifier) -> None:
    header, payload, signature = issue_access_token(make_claims(), key).split(".")
    raw = bytearray(unb64url(signature))
    raw[0] ^= 0x01
    assert rejected(verifier, f"{header}.{payload}.{b64url(bytes(raw))}").code == "bad_signature"
    assert rejected(verifier, f"{header}.{payload}.").code == "bad_signature"
    assert rejected(verifier, f"{header}.{payload}.{b64url(bytes(raw[:32]))}").code == (
        "bad_signature"
    )


def test_unknown_kid(key: SigningKey, verifier: TokenVerifier) -> None:
    stranger = SigningKey.generate()
    assert rejected(verifier, issue_access_token(make_claims(), stranger)).code == "unknown_kid"
    no_kid = ed25519_token({"alg": "EdDSA", "typ": "JWT"}, payload_dict(), key)
    assert rejected(verifier, no_kid).code == "unknown_kid"


def test_other_key_claiming_known_kid(key: SigningKey, verifier: TokenVerifier) -> None:
    impostor = SigningKey.from_pem(key.kid, SigningKey.generate().private_pem())
    assert rejected(verifier, issue_access_token(make_claims(), impostor)).code == "bad_signature"


def test_alg_none(key: SigningKey, verifier: TokenVerifier) -> None:
    for alg in ("none", "None", "NONE"):
        token = f"{json_segment({'alg': alg, 'kid': key.kid})}.{json_segment(payload_dict())}."
        assert rejected(verifier, token).code == "bad_algorithm"


@pytest.mark.parametrize("secret_kind", ["raw", "pem", "jwk_x"])
def test_hs256_with_public_key_as_secret(
    key: SigningKey, verifier: TokenVerifier, secret_kind: str
) -> None:
    """The classic algorithm-confusion attack: HMAC "signed" with the (public) verification key."""
    jwk = key.public_jwk()
    private = serialization.load_pem_private_key(key.private_pem(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    public = private.public_key()
    secrets = {
        "raw": unb64url(jwk["x"]),
        "pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "jwk_x": jwk["x"].encode(),
    }
    header = {"alg": "HS256", "kid": key.kid, "typ": "JWT"}
    token = hs256_token(header, payload_dict(role="admin"), secrets[secret_kind])
    assert rejected(verifier, token).code == "bad_algorithm"


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256", "Ed25519", "eddsa", "", None, 1])
def test_any_other_alg(key: SigningKey, verifier: TokenVerifier, alg: object) -> None:
    """Even a genuine Ed25519 signature is refused unless the header says exactly EdDSA."""
    token = ed25519_token({"alg": alg, "kid": key.kid}, payload_dict(), key)
    assert rejected(verifier, token).code == "bad_algorithm"


def test_unexpected_header_parameters(key: SigningKey, verifier: TokenVerifier) -> None:
    base = {"alg": "EdDSA", "kid": key.kid}
    for extra in (
        {"crit": ["exp"], "exp": 1},
        {"b64": False, "crit": ["b64"]},
        {"jku": "https://evil.example/jwks"},
        {"jwk": key.public_jwk()},
        {"typ": "at+jwt"},
    ):
        token = ed25519_token({**base, **extra}, payload_dict(), key)
        assert rejected(verifier, token).code == "malformed"
    kid_not_str = ed25519_token({**base, "kid": 7}, payload_dict(), key)
    assert rejected(verifier, kid_not_str).code == "malformed"


# --- claims ------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["sub", "email", "role", "iat", "exp", "jti", "iss", "typ"])
def test_missing_claim(key: SigningKey, verifier: TokenVerifier, missing: str) -> None:
    payload = payload_dict()
    del payload[missing]
    token = ed25519_token({"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}, payload, key)
    assert rejected(verifier, token).code == "bad_claims"


@pytest.mark.parametrize(
    "overrides",
    [
        {"typ": "refresh"},
        {"role": "root"},
        {"role": "Admin"},
        {"iss": "someone-else"},
        {"exp": str(NOW + 300)},
        {"iat": True},
        {"exp": float(NOW + 300)},
        {"sub": 123},
        {"sub": ""},
        {"jti": None},
        {"exp": NOW - 1},  # expires before issued
        {"nbf": "soon"},
    ],
    ids=repr,
)
def test_bad_claims(key: SigningKey, verifier: TokenVerifier, overrides: dict[str, Any]) -> None:
    token = ed25519_token(
        {"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}, payload_dict(**overrides), key
    )
    assert rejected(verifier, token).code == "bad_claims"


def test_issuer_is_configurable(key: SigningKey) -> None:
    token = issue_access_token(make_claims(iss="pulse-staging"), key)
    assert rejected(TokenVerifier([key.public_jwk()]), token).code == "bad_claims"
    other = TokenVerifier([key.public_jwk()], issuer="pulse-staging")
    assert other.verify(token, now=NOW + 10).iss == "pulse-staging"


def test_extra_claims_are_ignored(key: SigningKey, verifier: TokenVerifier) -> None:
    token = ed25519_token(
        {"alg": "EdDSA", "kid": key.kid, "typ": "JWT"}, payload_dict(scope="x"), key
    )
    assert verifier.verify(token, now=NOW + 10) == make_claims()


def test_issue_refuses_claims_no_verifier_accepts(key: SigningKey) -> None:
    for overrides in ({"role": "root"}, {"typ": "refresh"}, {"exp": NOW}):
        with pytest.raises(ValueError):
            issue_access_token(make_claims(**overrides), key)


# --- malformed ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "not.a.jwt",
        "",
        "a.b",
        "a.b.c.d",
        "...",
        "eyJhbGciOiJFZERTQSJ9",
        "!!!.???.***",
        "é.é.é",
        f"{json_segment([1, 2])}.{json_segment({})}.",
        f"{b64url(b'not json')}.{json_segment({})}.",
        f"{json_segment({'alg': 'EdDSA'})}=.{json_segment({})}.",  # padding is not base64url
        "x" * 10_000,
    ],
    ids=lambda t: repr(t[:24]),
)
def test_malformed(verifier: TokenVerifier, token: str) -> None:
    assert rejected(verifier, token).code == "malformed"


def test_payload_not_an_object(key: SigningKey, verifier: TokenVerifier) -> None:
    header = json_segment({"alg": "EdDSA", "kid": key.kid, "typ": "JWT"})
    for payload in (b64url(b"[1,2]"), b64url(b"not json")):
        private = serialization.load_pem_private_key(key.private_pem(), password=None)
        assert isinstance(private, Ed25519PrivateKey)
        signing_input = f"{header}.{payload}"
        token = f"{signing_input}.{b64url(private.sign(signing_input.encode()))}"
        assert rejected(verifier, token).code == "malformed"


def test_message_never_contains_token(key: SigningKey, verifier: TokenVerifier) -> None:
    valid = issue_access_token(make_claims(exp=NOW + 1), key)
    header, payload, signature = valid.split(".")
    for token in (valid, f"{header}.{payload}.{signature[::-1]}", f"{header}.{payload}"):
        exc = rejected(verifier, token, now=NOW + 1000)
        for part in token.split("."):
            assert part not in str(exc)
        assert exc.__cause__ is None
