"""RFC 9068 access-token signing and every verification rule."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey

from ostiary.core.models import SigningKey
from ostiary.crypto.jwt import JwtSigner, JwtVerificationError, verify_access_token
from ostiary.crypto.keys import LoadedKey, generate_signing_key, jwks_document, load_signing_key

from ..support import ENCRYPTION_KEY, ISSUER, RESOURCE

NOW = 1_700_000_000
AUDIENCE = RESOURCE


def claims(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": AUDIENCE,
        "client_id": "app",
        "scope": "tools:read",
        "iat": NOW,
        "exp": NOW + 3600,
        "jti": "jti-1",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def sign(key: LoadedKey, body: dict[str, Any], **header: Any) -> str:
    head: dict[str, Any] = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
    head.update(header)
    head = {k: v for k, v in head.items() if v is not None}
    return jwt.encode(head, body, key.key, algorithms=["ES256"])


def tamper_signature(token: str) -> str:
    head, body, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    raw[0] ^= 0x01
    return f"{head}.{body}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


def tamper_payload(token: str) -> str:
    head, _, sig = token.split(".")
    return f"{head}.{b64(claims(scope='tools:read tools:execute'))}.{sig}"


@pytest.fixture
def keys(signing_record: SigningKey) -> KeySet:
    return KeySet.import_key_set(jwks_document([signing_record]))  # type: ignore[arg-type]


def verify(token: str, keys: KeySet, now: int = NOW) -> dict[str, Any]:
    return verify_access_token(token, keys, issuer=ISSUER, audience=AUDIENCE, now=now)


def test_signer_sets_the_rfc9068_header(signing_key: LoadedKey, keys: KeySet) -> None:
    signer = JwtSigner(signing_key)
    assert signer.kid == signing_key.kid
    token = signer.sign(claims())
    decoded = jwt.decode(token, keys, algorithms=["ES256"])
    assert decoded.header == {"alg": "ES256", "typ": "at+jwt", "kid": signing_key.kid}
    assert verify(token, keys) == claims()


@pytest.mark.parametrize(
    ("body", "header", "now"),
    [
        pytest.param(claims(), {}, NOW, id="valid"),
        pytest.param(claims(aud=["https://x.example/", AUDIENCE]), {}, NOW, id="aud-list"),
        pytest.param(claims(), {"typ": "AT+JWT"}, NOW, id="typ-case-insensitive"),
        pytest.param(claims(), {"typ": "application/at+jwt"}, NOW, id="typ-media-type"),
        pytest.param(claims(), {}, NOW + 3600 + 29, id="expired-within-leeway"),
        pytest.param(claims(nbf=NOW + 30), {}, NOW, id="nbf-within-leeway"),
        pytest.param(claims(nbf=NOW - 10), {}, NOW, id="nbf-past"),
    ],
)
def test_verify_accepts(
    signing_key: LoadedKey, keys: KeySet, body: dict[str, Any], header: dict[str, Any], now: int
) -> None:
    assert verify(sign(signing_key, body, **header), keys, now) == body


@pytest.mark.parametrize(
    ("body", "header", "now", "message"),
    [
        pytest.param(claims(iss="https://evil.example.com"), {}, NOW, "issuer", id="wrong-iss"),
        pytest.param(claims(iss=ISSUER + "/"), {}, NOW, "issuer", id="iss-trailing-slash"),
        pytest.param(claims(iss=None), {}, NOW, "issuer", id="missing-iss"),
        pytest.param(claims(aud=RESOURCE + "/other"), {}, NOW, "audience", id="wrong-aud"),
        pytest.param(claims(aud=["https://x.example/"]), {}, NOW, "audience", id="aud-list-miss"),
        pytest.param(claims(aud=None), {}, NOW, "audience", id="missing-aud"),
        pytest.param(claims(), {}, NOW + 3600 + 30, "expired", id="expired-past-leeway"),
        pytest.param(claims(exp=None), {}, NOW, "expired", id="missing-exp"),
        pytest.param(claims(exp=str(NOW + 3600)), {}, NOW, "expired", id="exp-not-a-number"),
        pytest.param(claims(nbf=NOW + 31), {}, NOW, "not yet valid", id="nbf-in-future"),
        pytest.param(claims(), {"typ": "JWT"}, NOW, "RFC 9068", id="typ-jwt"),
        pytest.param(claims(), {"typ": None}, NOW, "RFC 9068", id="typ-missing"),
    ],
)
def test_verify_refuses_claims(
    signing_key: LoadedKey,
    *,
    keys: KeySet,
    body: dict[str, Any],
    header: dict[str, Any],
    now: int,
    message: str,
) -> None:
    with pytest.raises(JwtVerificationError, match=message):
        verify(sign(signing_key, body, **header), keys, now)


def hs256_token() -> str:
    return jwt.encode(
        {"alg": "HS256", "typ": "at+jwt"},
        claims(),
        OctKey.import_key(b"k" * 32),
        algorithms=["HS256"],
    )


def none_token() -> str:
    return f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{b64(claims())}."


def foreign_key_token() -> str:
    other = load_signing_key(generate_signing_key(ENCRYPTION_KEY, now=1), ENCRYPTION_KEY)
    return sign(other, claims())


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda key: none_token(), id="alg-none"),
        pytest.param(lambda key: hs256_token(), id="alg-hs256"),
        pytest.param(lambda key: tamper_signature(sign(key, claims())), id="tampered-signature"),
        pytest.param(lambda key: tamper_payload(sign(key, claims())), id="tampered-payload"),
        pytest.param(lambda key: sign(key, claims()).rsplit(".", 1)[0] + ".", id="signature-cut"),
        pytest.param(lambda key: foreign_key_token(), id="signed-by-unknown-key"),
        pytest.param(lambda key: "not-a-jwt", id="garbage"),
        pytest.param(lambda key: "", id="empty"),
    ],
)
def test_verify_refuses_bad_signatures(
    signing_key: LoadedKey, keys: KeySet, make: Callable[[LoadedKey], str]
) -> None:
    with pytest.raises(JwtVerificationError, match="invalid token"):
        verify(make(signing_key), keys)


def test_algorithms_can_be_restricted(signing_key: LoadedKey, keys: KeySet) -> None:
    token = sign(signing_key, claims())
    with pytest.raises(JwtVerificationError):
        verify_access_token(
            token, keys, issuer=ISSUER, audience=AUDIENCE, now=NOW, algorithms=("RS256",)
        )


def test_leeway_is_configurable(signing_key: LoadedKey, keys: KeySet) -> None:
    token = sign(signing_key, claims())
    with pytest.raises(JwtVerificationError, match="expired"):
        verify_access_token(token, keys, issuer=ISSUER, audience=AUDIENCE, now=NOW + 3600, leeway=0)
