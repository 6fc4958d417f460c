"""Short-lived access JWTs signed with Ed25519 (``EdDSA``) under a ``kid``.

The auth service holds the private keys and signs; the gateway and ingest verify locally with the
public keys the auth service publishes as JWKs, so a request never needs a round trip to auth.
Keys rotate by ``kid``: auth starts signing with a new key while verifiers still know the old one,
and drops the old key once every token it signed has expired.

Verification is deliberately stricter than PyJWT's defaults, because the verifier is the security
boundary: the header is parsed and checked here before PyJWT sees the token, the algorithm is
pinned twice (our own check and ``algorithms=["EdDSA"]``), and every claim is checked here with a
stable error code the caller can log and count without ever logging the token itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Final, Literal

import jwt
import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "AccessClaims",
    "InvalidToken",
    "InvalidTokenCode",
    "SigningKey",
    "TokenVerifier",
    "issue_access_token",
]

InvalidTokenCode = Literal[
    "malformed",
    "bad_algorithm",
    "unknown_kid",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "bad_claims",
]

ALGORITHM: Final = "EdDSA"
ROLES: Final = frozenset({"admin", "user", "instructor", "student"})
ACCESS_TYPE: Final = "access"

# Claims that must be present in the signed payload. ``iss`` and ``typ`` have defaults on
# AccessClaims for the issuer's convenience, so msgspec alone would silently fill them in.
_REQUIRED_CLAIMS: Final = ("sub", "email", "role", "iat", "exp", "jti", "iss", "typ")
# The only header parameters we ever issue. Anything else (``crit``, ``b64``, ``jku``, ``jwk``,
# ``x5u``...) asks the verifier to do something we do not do, so the token is not one of ours.
_ALLOWED_HEADER_PARAMS: Final = frozenset({"alg", "kid", "typ"})
# Far above any real token; bounds the work an attacker can make us do per request.
_MAX_TOKEN_LENGTH: Final = 8192
_B64URL_SEGMENT: Final = re.compile(r"[A-Za-z0-9_-]*", re.ASCII)

_NonEmptyStr = Annotated[str, msgspec.Meta(min_length=1)]
_Timestamp = Annotated[int, msgspec.Meta(ge=0)]


class InvalidToken(Exception):
    """A token was rejected; ``code`` says why, in a form stable enough for metrics and tests.

    The message is a short fixed sentence. It never contains the token (a bearer credential that
    must not end up in logs) nor any header or claim value taken from it.
    """

    code: InvalidTokenCode

    def __init__(self, code: InvalidTokenCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class AccessClaims(msgspec.Struct, frozen=True, kw_only=True):
    """The payload of an access token; ``iat``/``exp`` are whole seconds since the epoch."""

    sub: _NonEmptyStr
    """User id."""
    email: _NonEmptyStr
    role: str
    """``"admin"``, ``"user"``, ``"instructor"`` or ``"student"`` (:data:`ROLES`); anything else
    is rejected on issue and on verify."""
    iat: _Timestamp
    exp: _Timestamp
    jti: _NonEmptyStr
    """Unique token id, so a single token can be traced or denied without storing the token."""
    iss: str = "pulse"
    typ: str = ACCESS_TYPE
    """Keeps other JWTs we might sign with the same keys (refresh, invites) from passing as access
    tokens."""
    ver: Annotated[int, msgspec.Meta(ge=0)] = 0
    """The user's token version at issue: raising it (disable, role change, password reset)
    revokes every earlier token of that user without a list of their ids."""


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(segment: str) -> bytes:
    """Strict unpadded base64url: only the URL alphabet, and only the canonical encoding.

    Requiring the canonical form means one token has exactly one spelling, so the token string
    cannot be altered (e.g. in unused trailing bits) while still verifying.
    """
    if not _B64URL_SEGMENT.fullmatch(segment) or len(segment) % 4 == 1:
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if _b64url_encode(data) != segment:
        raise ValueError("non-canonical base64url")
    return data


def _ed25519_thumbprint(x: str) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True
    )
    return _b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class SigningKey:
    """An Ed25519 private key and the ``kid`` its tokens and its published JWK carry."""

    __slots__ = ("_private", "kid")

    def __init__(self, kid: str, private_key: Ed25519PrivateKey) -> None:
        if not kid:
            raise ValueError("kid must not be empty")
        self.kid = kid
        self._private = private_key

    @classmethod
    def generate(cls) -> SigningKey:
        """A fresh key whose ``kid`` is its RFC 7638 thumbprint: unique, and derivable from the
        public key alone, so a kid can never silently point at two different keys."""
        private_key = Ed25519PrivateKey.generate()
        x = _b64url_encode(_raw_public(private_key.public_key()))
        return cls(_ed25519_thumbprint(x), private_key)

    @classmethod
    def from_pem(cls, kid: str, pem: bytes) -> SigningKey:
        """Load a key stored with :meth:`private_pem`; anything but unencrypted Ed25519 fails."""
        private_key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 private key")
        return cls(kid, private_key)

    def private_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM; auth stores it in its own database, which is the protection."""
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK (RFC 8037), ready to publish in a JWKS."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url_encode(_raw_public(self._private.public_key())),
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }

    def __repr__(self) -> str:
        # Never let the private key reach a log line through a repr.
        return f"SigningKey(kid={self.kid!r})"


def issue_access_token(claims: AccessClaims, key: SigningKey) -> str:
    """Sign ``claims`` as a compact JWT with header ``{"alg": "EdDSA", "kid": ..., "typ": "JWT"}``.

    Claims every verifier would reject raise ``ValueError`` here instead, so a bug in the issuer
    fails loudly in auth rather than as a stream of 401s everywhere else.
    """
    if claims.typ != ACCESS_TYPE:
        raise ValueError(f"typ must be {ACCESS_TYPE!r}")
    if claims.role not in ROLES:
        raise ValueError(f"role must be one of {sorted(ROLES)}")
    if claims.exp <= claims.iat:
        raise ValueError("exp must be after iat")
    payload: dict[str, Any] = msgspec.to_builtins(claims)
    return jwt.encode(
        payload, key._private, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"}
    )


def _public_key_from_jwk(jwk: Mapping[str, str]) -> tuple[str, Ed25519PublicKey]:
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError("Ed25519 JWK has no kid")
    if jwk.get("alg", ALGORITHM) != ALGORITHM:
        raise ValueError(f"Ed25519 JWK {kid!r} has alg other than {ALGORITHM}")
    if jwk.get("use", "sig") != "sig":
        raise ValueError(f"Ed25519 JWK {kid!r} is not a signing key")
    x = jwk.get("x")
    if not isinstance(x, str):
        raise ValueError(f"Ed25519 JWK {kid!r} has no x")
    try:
        raw = _b64url_decode(x)
    except (ValueError, binascii.Error):
        raise ValueError(f"Ed25519 JWK {kid!r} has an invalid x") from None
    if len(raw) != 32:
        raise ValueError(f"Ed25519 JWK {kid!r} has an invalid x")
    return kid, Ed25519PublicKey.from_public_bytes(raw)


def _is_ed25519(jwk: Mapping[str, str]) -> bool:
    return jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519"


class TokenVerifier:
    """Verifies access tokens against a set of Ed25519 public keys, looked up by ``kid``.

    The key set is replaced wholesale (never mutated in place), so a ``set_keys`` during rotation
    cannot be observed half-done by a concurrent ``verify``.
    """

    def __init__(
        self,
        jwks: Iterable[Mapping[str, str]] = (),
        *,
        leeway_s: float = 5.0,
        issuer: str = "pulse",
    ) -> None:
        if not (math.isfinite(leeway_s) and leeway_s >= 0):
            raise ValueError("leeway_s must be a finite, non-negative number")
        if not issuer:
            raise ValueError("issuer must not be empty")
        self._leeway_s = leeway_s
        self._issuer = issuer
        self._keys: dict[str, Ed25519PublicKey] = {}
        self.set_keys(jwks)

    def set_keys(self, jwks: Iterable[Mapping[str, str]]) -> None:
        """Replace the key set (rotation): kids missing from ``jwks`` stop verifying at once.

        Entries that are not Ed25519 keys are skipped, so a JWKS may carry other key types. A
        broken Ed25519 entry, or one kid with two different keys, raises ``ValueError`` and
        leaves the current set untouched rather than quietly verifying with fewer keys.
        """
        keys: dict[str, Ed25519PublicKey] = {}
        for jwk in jwks:
            if not _is_ed25519(jwk):
                continue
            kid, public_key = _public_key_from_jwk(jwk)
            _check_no_conflict(keys, kid, public_key)
            keys[kid] = public_key
        self._keys = keys

    def add_key(self, jwk: Mapping[str, str]) -> None:
        """Add one key; ``ValueError`` if it is not a usable Ed25519 JWK or its kid is taken by a
        different key (silently replacing it would let a kid switch keys under live tokens)."""
        if not _is_ed25519(jwk):
            raise ValueError("not an Ed25519 JWK")
        kid, public_key = _public_key_from_jwk(jwk)
        _check_no_conflict(self._keys, kid, public_key)
        self._keys = {**self._keys, kid: public_key}

    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def verify(self, token: str, *, now: float | None = None) -> AccessClaims:
        """The token's claims, or :class:`InvalidToken` with the first reason it fails.

        ``now`` (seconds since the epoch) defaults to the wall clock; tests pass it to control
        time. Checks run cheapest and least-trusting first: shape, header, algorithm, key, then
        the signature, and only then the (now authenticated) claims.
        """
        keys = self._keys  # one snapshot for the whole call, whatever rotation does meanwhile
        kid = self._check_header(token)
        public_key = keys.get(kid)
        if public_key is None:
            raise InvalidToken("unknown_kid", "token is signed with an unknown key")
        payload = self._check_signature(token, public_key)
        claims = self._check_claims(payload)
        self._check_times(claims, payload, time.time() if now is None else now)
        return claims

    def _check_header(self, token: str) -> str:
        """Validate the token's shape and unverified header; return the ``kid`` to look up."""
        if len(token) > _MAX_TOKEN_LENGTH:
            raise InvalidToken("malformed", "token is too long")
        segments = token.split(".")
        if len(segments) != 3 or not all(segments[:2]):
            raise InvalidToken("malformed", "token is not a compact JWS")
        try:
            for segment in segments[1:]:
                _b64url_decode(segment)
            header = json.loads(_b64url_decode(segments[0]))
        except (ValueError, binascii.Error, RecursionError):
            # json.JSONDecodeError is a ValueError; `from None` keeps token bytes out of tracebacks.
            raise InvalidToken("malformed", "token is not valid base64url JSON") from None
        if not isinstance(header, dict):
            raise InvalidToken("malformed", "token header is not a JSON object")
        if not header.keys() <= _ALLOWED_HEADER_PARAMS:
            raise InvalidToken("malformed", "token header has unsupported parameters")
        if header.get("typ", "JWT") != "JWT":
            raise InvalidToken("malformed", "token header typ is not JWT")
        if header.get("alg") != ALGORITHM:
            raise InvalidToken("bad_algorithm", "token algorithm is not EdDSA")
        kid = header.get("kid")
        if kid is None:
            raise InvalidToken("unknown_kid", "token header has no kid")
        if not isinstance(kid, str):
            raise InvalidToken("malformed", "token header kid is not a string")
        return kid

    def _check_signature(self, token: str, public_key: Ed25519PublicKey) -> dict[str, Any]:
        """Verify the signature with PyJWT, which does nothing else here: claims are ours."""
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                public_key,
                # Pinned even though the header was checked: the key object decides nothing, so a
                # token "signed" with HS256 over our public key bytes can never verify.
                algorithms=[ALGORITHM],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise InvalidToken("bad_signature", "token signature is invalid") from None
        except jwt.InvalidAlgorithmError:
            raise InvalidToken("bad_algorithm", "token algorithm is not EdDSA") from None
        except jwt.DecodeError:
            raise InvalidToken("malformed", "token payload is not a JSON object") from None
        except jwt.InvalidTokenError:
            raise InvalidToken("bad_claims", "token claims are invalid") from None
        return payload

    def _check_claims(self, payload: dict[str, Any]) -> AccessClaims:
        if any(name not in payload for name in _REQUIRED_CLAIMS):
            raise InvalidToken("bad_claims", "token is missing a required claim")
        try:
            claims = msgspec.convert(payload, AccessClaims)
        except msgspec.ValidationError:
            raise InvalidToken("bad_claims", "token claims have the wrong types") from None
        if claims.iss != self._issuer:
            raise InvalidToken("bad_claims", "token issuer is not trusted")
        if claims.typ != ACCESS_TYPE:
            raise InvalidToken("bad_claims", "token is not an access token")
        if claims.role not in ROLES:
            raise InvalidToken("bad_claims", "token role is unknown")
        if claims.exp <= claims.iat:
            raise InvalidToken("bad_claims", "token expires before it was issued")
        return claims

    def _check_times(self, claims: AccessClaims, payload: dict[str, Any], now: float) -> None:
        """``exp`` with leeway for clock skew; ``iat`` (and ``nbf``, never issued by us but
        honoured if present, since ignoring it would silently accept early use) not in the
        future beyond the leeway."""
        if now >= claims.exp + self._leeway_s:
            raise InvalidToken("expired", "token has expired")
        nbf = payload.get("nbf", claims.iat)
        if isinstance(nbf, bool) or not isinstance(nbf, int | float) or not math.isfinite(nbf):
            raise InvalidToken("bad_claims", "token nbf is not a number")
        if max(claims.iat, nbf) > now + self._leeway_s:
            raise InvalidToken("not_yet_valid", "token is not valid yet")


def _check_no_conflict(
    keys: Mapping[str, Ed25519PublicKey], kid: str, public_key: Ed25519PublicKey
) -> None:
    existing = keys.get(kid)
    if existing is not None and _raw_public(existing) != _raw_public(public_key):
        raise ValueError(f"kid {kid!r} is already used by a different key")
