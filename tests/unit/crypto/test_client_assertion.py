"""Signature checks of ``private_key_jwt`` assertions with real keys (joserfc)."""

from __future__ import annotations

import base64
import json
import warnings
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from ostiary.crypto.client_assertion import (
    AssertionRejected,
    NoMatchingKey,
    verify_client_assertion,
)

CLAIMS = {"iss": "c", "sub": "c", "aud": "https://as/token", "exp": 2_000_000_000, "jti": "j"}
EC = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
EC_OTHER = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})  # same kid, other key
RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
ED = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})


def small_rsa() -> RSAKey:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc warns about the size: the point of the test
        return RSAKey.generate_key(1024, parameters={"kid": "rsa-1"})


def jwks(*keys: Any, **extra: Any) -> dict[str, Any]:
    return {"keys": [{**k.as_dict(private=False), **extra} for k in keys]}


def sign(key: Any, alg: str, header: dict[str, Any] | None = None) -> str:
    full = {"alg": alg, "kid": key.kid, **(header or {})}
    return jwt.encode(full, CLAIMS, key, algorithms=[alg])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(alg: str) -> str:
    header = b64(json.dumps({"alg": alg, "kid": "ec-1"}).encode())
    return f"{header}.{b64(json.dumps(CLAIMS).encode())}."


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        pytest.param(EC, "ES256", id="ES256"),
        pytest.param(RSA, "RS256", id="RS256"),
        pytest.param(ED, "Ed25519", id="Ed25519"),
    ],
)
def test_allowed_algorithms_verify(key: Any, alg: str) -> None:
    assert verify_client_assertion(sign(key, alg), jwks(EC, RSA, ED)) == CLAIMS


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")  # only the test's own signing warns
def test_eddsa_verifies_without_a_warning() -> None:
    assertion = sign(ED, "EdDSA")
    assert verify_client_assertion(assertion, jwks(ED)) == CLAIMS


def test_the_kid_may_be_omitted() -> None:
    assertion = jwt.encode({"alg": "ES256"}, CLAIMS, EC, algorithms=["ES256"])
    assert verify_client_assertion(assertion, jwks(RSA, EC_OTHER, EC)) == CLAIMS


def test_private_parts_of_a_registered_key_are_ignored() -> None:
    assert verify_client_assertion(sign(EC, "ES256"), {"keys": [EC.as_dict(private=True)]})


HS_KEY = OctKey.generate_key(256, parameters={"kid": "ec-1"})
REFUSALS = [
    pytest.param(unsigned("none"), jwks(EC), AssertionRejected, id="alg-none"),
    pytest.param(
        jwt.encode({"alg": "HS256", "kid": "ec-1"}, CLAIMS, HS_KEY, algorithms=["HS256"]),
        {"keys": [HS_KEY.as_dict(private=True)]},
        AssertionRejected,
        id="alg-HS256-with-an-oct-key",
    ),
    pytest.param(
        jwt.encode({"alg": "ES384", "kid": "x"}, CLAIMS, ECKey.generate_key("P-384"), ["ES384"]),
        jwks(EC),
        AssertionRejected,
        id="alg-ES384-not-allowed",
    ),
    pytest.param(sign(EC_OTHER, "ES256"), jwks(EC), AssertionRejected, id="wrong-key-same-kid"),
    pytest.param(sign(EC, "ES256", {"kid": "nope"}), jwks(EC), NoMatchingKey, id="unknown-kid"),
    pytest.param(sign(EC, "ES256"), jwks(RSA, ED), NoMatchingKey, id="no-key-of-that-type"),
    pytest.param(sign(EC, "ES256"), jwks(EC, use="enc"), NoMatchingKey, id="key-for-encryption"),
    pytest.param(sign(EC, "ES256"), jwks(EC, alg="RS256"), NoMatchingKey, id="key-for-other-alg"),
    pytest.param(
        sign(RSA, "RS256"),
        jwks(small_rsa()),
        NoMatchingKey,
        id="rsa-under-2048-bits",
    ),
    pytest.param(sign(EC, "ES256"), {"keys": "nope"}, NoMatchingKey, id="keys-not-a-list"),
    pytest.param(sign(EC, "ES256"), {"keys": [{"kty": "EC"}]}, NoMatchingKey, id="broken-jwk"),
    pytest.param("not a jwt", jwks(EC), AssertionRejected, id="not-a-jws"),
    pytest.param(
        sign(EC, "ES256").rsplit(".", 2)[0] + "." + b64(b'{"sub":"x"}') + "." + "AAAA",
        jwks(EC),
        AssertionRejected,
        id="tampered-payload",
    ),
]


@pytest.mark.parametrize(("assertion", "keys", "expected"), REFUSALS)
def test_refusals(assertion: str, keys: dict[str, Any], expected: type[Exception]) -> None:
    with pytest.raises(AssertionRejected) as caught:
        verify_client_assertion(assertion, keys)
    assert isinstance(caught.value, expected)
