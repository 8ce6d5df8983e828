"""Signing keys: generation, encryption at rest, and the public JWKS (RFC 7517)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey, KeyParameters, OKPKey, RSAKey

from ostiary.core.models import SigningKey
from ostiary.crypto.sealing import seal, unseal

PrivateKey = ECKey | RSAKey | OKPKey

# ES256 is the default. Ed25519 is RFC 9864's fully-specified name for EdDSA over Ed25519;
# the older polymorphic "EdDSA" is deprecated there (joserfc warns on it), so it is
# accepted only as a name for the configuration and normalised by ``signing_algorithm``.
SIGNING_ALGORITHMS = ("ES256", "RS256", "Ed25519")
ALIASES = {"EdDSA": "Ed25519"}
RSA_BITS = 2048

_GENERATE: dict[str, Callable[[KeyParameters], PrivateKey]] = {
    "ES256": lambda params: ECKey.generate_key("P-256", parameters=params),
    "RS256": lambda params: RSAKey.generate_key(RSA_BITS, parameters=params),
    "Ed25519": lambda params: OKPKey.generate_key("Ed25519", parameters=params),
}
_IMPORT: dict[str, Callable[[bytes, KeyParameters], PrivateKey]] = {
    "ES256": lambda pem, params: ECKey.import_key(pem, parameters=params),
    "RS256": lambda pem, params: RSAKey.import_key(pem, parameters=params),
    "Ed25519": lambda pem, params: OKPKey.import_key(pem, parameters=params),
}


def signing_algorithm(name: str) -> str:
    """The JWS ``alg`` for a configured name; ``ValueError`` if it is not one we sign with."""
    alg = ALIASES.get(name, name)
    if alg not in SIGNING_ALGORITHMS:
        raise ValueError(f"unsupported signing algorithm {name}")
    return alg


def generate_signing_key(encryption_key: bytes, now: int, alg: str = "ES256") -> SigningKey:
    """A new key pair whose private half is sealed under ``encryption_key``."""
    alg = signing_algorithm(alg)
    kid = secrets.token_urlsafe(12)
    params: KeyParameters = {"kid": kid, "alg": alg, "use": "sig"}
    key = _GENERATE[alg](params)
    public = {k: str(v) for k, v in key.as_dict(private=False).items()}
    sealed = seal(encryption_key, key.as_pem(private=True), kid.encode())
    return SigningKey(kid=kid, alg=alg, private_key=sealed, public_jwk=public, created_at=now)


@dataclass(frozen=True, slots=True)
class LoadedKey:
    """A signing key ready to sign."""

    kid: str
    alg: str
    key: PrivateKey


def load_signing_key(record: SigningKey, encryption_key: bytes) -> LoadedKey:
    pem = unseal(encryption_key, record.private_key, record.kid.encode())
    params: KeyParameters = {"kid": record.kid, "alg": record.alg, "use": "sig"}
    key = _IMPORT[signing_algorithm(record.alg)](pem, params)
    return LoadedKey(kid=record.kid, alg=record.alg, key=key)


def jwks_document(records: Sequence[SigningKey]) -> dict[str, Any]:
    """The public JWKS: every key that may still have live tokens."""
    return {"keys": [dict(r.public_jwk) for r in records]}
