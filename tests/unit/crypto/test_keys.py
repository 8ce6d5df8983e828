"""Signing keys: generation, sealing at rest, loading, JWKS."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from ostiary.core.models import SigningKey
from ostiary.crypto.jwt import JwtSigner, JwtVerificationError, verify_access_token
from ostiary.crypto.keys import generate_signing_key, jwks_document, load_signing_key
from ostiary.crypto.sealing import SealError

from ..support import ENCRYPTION_KEY


def test_generated_key_shape(signing_record: SigningKey) -> None:
    assert signing_record.alg == "ES256"
    assert signing_record.created_at == 1_600_000_000
    assert signing_record.retired_at is None
    assert len(signing_record.kid) >= 16
    jwk = signing_record.public_jwk
    assert jwk["kty"] == "EC"
    assert jwk["crv"] == "P-256"
    assert jwk["kid"] == signing_record.kid
    assert jwk["alg"] == "ES256"
    assert jwk["use"] == "sig"
    assert {"x", "y"} <= set(jwk)
    assert "d" not in jwk


def test_private_key_is_sealed_at_rest(signing_record: SigningKey) -> None:
    loaded = load_signing_key(signing_record, ENCRYPTION_KEY)
    pem = loaded.key.as_pem(private=True)
    assert pem.startswith(b"-----BEGIN")
    assert pem not in signing_record.private_key
    assert b"-----BEGIN" not in signing_record.private_key
    assert b"PRIVATE KEY" not in signing_record.private_key
    assert str(loaded.key.as_dict(private=True)["d"]).encode() not in signing_record.private_key


def test_loaded_key_signs_what_the_public_jwk_verifies(signing_record: SigningKey) -> None:
    loaded = load_signing_key(signing_record, ENCRYPTION_KEY)
    assert (loaded.kid, loaded.alg) == (signing_record.kid, "ES256")
    token = jwt.encode({"alg": "ES256", "kid": loaded.kid}, {"a": 1}, loaded.key)
    public = ECKey.import_key(dict(signing_record.public_jwk))
    assert jwt.decode(token, public, algorithms=["ES256"]).claims == {"a": 1}


@pytest.mark.parametrize(
    ("kid", "key"),
    [
        pytest.param(None, bytes(32), id="wrong-encryption-key"),
        pytest.param("another-kid", ENCRYPTION_KEY, id="kid-swapped"),
    ],
)
def test_loading_refuses(signing_record: SigningKey, kid: str | None, key: bytes) -> None:
    record = signing_record if kid is None else replace(signing_record, kid=kid)
    with pytest.raises(SealError):
        load_signing_key(record, key)


def test_each_key_is_new() -> None:
    a = generate_signing_key(ENCRYPTION_KEY, now=1)
    b = generate_signing_key(ENCRYPTION_KEY, now=2)
    assert a.kid != b.kid
    assert a.public_jwk["x"] != b.public_jwk["x"]


@pytest.mark.parametrize("alg", ["HS256", "none", "ES384", "PS256", ""])
def test_unsupported_algorithm_is_refused(alg: str) -> None:
    with pytest.raises(ValueError, match=f"unsupported signing algorithm {alg}"):
        generate_signing_key(ENCRYPTION_KEY, now=1, alg=alg)


def test_jwks_document_lists_public_keys_only(signing_record: SigningKey) -> None:
    other = generate_signing_key(ENCRYPTION_KEY, now=2)
    doc = jwks_document([signing_record, other])
    assert [k["kid"] for k in doc["keys"]] == [signing_record.kid, other.kid]
    assert all("d" not in k for k in doc["keys"])
    doc["keys"][0]["kid"] = "mutated"
    assert signing_record.public_jwk["kid"] != "mutated"  # a copy, not the record's dict
    keyset = KeySet.import_key_set(jwks_document([other]))  # type: ignore[arg-type]
    assert len(keyset.keys) == 1
    assert jwks_document([]) == {"keys": []}


ALGORITHMS = [
    pytest.param("ES256", "ES256", {"kty": "EC", "crv": "P-256"}, id="ES256"),
    pytest.param("RS256", "RS256", {"kty": "RSA", "e": "AQAB"}, id="RS256"),
    pytest.param("Ed25519", "Ed25519", {"kty": "OKP", "crv": "Ed25519"}, id="Ed25519"),
    pytest.param("EdDSA", "Ed25519", {"kty": "OKP", "crv": "Ed25519"}, id="EdDSA-alias"),
]


@pytest.mark.parametrize(("name", "alg", "public"), ALGORITHMS)
def test_each_algorithm_signs_what_the_published_jwks_verifies(
    name: str, alg: str, public: dict[str, str]
) -> None:
    record = generate_signing_key(ENCRYPTION_KEY, now=1, alg=name)
    assert record.alg == alg
    assert record.public_jwk["alg"] == alg
    assert public.items() <= record.public_jwk.items()
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(record.public_jwk)
    loaded = load_signing_key(record, ENCRYPTION_KEY)
    token = JwtSigner(loaded).sign({"iss": "https://as.example.com", "aud": "r", "exp": 100})
    keys = KeySet.import_key_set(jwks_document([record]))  # type: ignore[arg-type]
    claims = verify_access_token(token, keys, issuer="https://as.example.com", audience="r", now=50)
    assert claims["exp"] == 100
    assert jwt.decode(token, keys, algorithms=[alg]).header["alg"] == alg


@pytest.mark.parametrize(("name", "alg", "public"), ALGORITHMS)
def test_each_algorithm_is_sealed_at_rest(name: str, alg: str, public: dict[str, str]) -> None:
    record = generate_signing_key(ENCRYPTION_KEY, now=1, alg=name)
    pem = load_signing_key(record, ENCRYPTION_KEY).key.as_pem(private=True)
    assert b"PRIVATE KEY" in pem
    assert b"PRIVATE KEY" not in record.private_key
    assert pem not in record.private_key
    with pytest.raises(SealError):
        load_signing_key(record, bytes(32))


def test_rsa_keys_are_at_least_2048_bits() -> None:
    record = generate_signing_key(ENCRYPTION_KEY, now=1, alg="RS256")
    modulus = base64.urlsafe_b64decode(record.public_jwk["n"] + "==")
    assert len(modulus) * 8 >= 2048


@pytest.mark.parametrize(
    ("signed_with", "claimed"),
    [
        pytest.param("ES256", "RS256", id="EC-key-as-RS256"),
        pytest.param("RS256", "ES256", id="RSA-key-as-ES256"),
        pytest.param("Ed25519", "ES256", id="OKP-key-as-ES256"),
    ],
)
def test_a_header_alg_that_does_not_fit_the_key_is_refused(signed_with: str, claimed: str) -> None:
    """A token whose header names another of our algorithms than its key's fails to verify."""
    record = generate_signing_key(ENCRYPTION_KEY, now=1, alg=signed_with)
    token = JwtSigner(load_signing_key(record, ENCRYPTION_KEY)).sign({"exp": 100})
    head, body, sig = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    forged_head = base64.urlsafe_b64encode(json.dumps(header | {"alg": claimed}).encode())
    forged = f"{forged_head.rstrip(b'=').decode()}.{body}.{sig}"
    keys = KeySet.import_key_set(jwks_document([record]))  # type: ignore[arg-type]
    with pytest.raises(JwtVerificationError, match="invalid token"):
        verify_access_token(forged, keys, issuer="x", audience="r", now=50)
