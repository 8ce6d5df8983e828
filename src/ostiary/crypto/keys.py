"""Signing keys: generation, encryption at rest, and the public JWKS (RFC 7517)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey

from ostiary.core.models import SigningKey
from ostiary.crypto.sealing import seal, unseal

ALGORITHMS = {"ES256": "P-256"}


def generate_signing_key(encryption_key: bytes, now: int, alg: str = "ES256") -> SigningKey:
    """A new key pair whose private half is sealed under ``encryption_key``."""
    if alg not in ALGORITHMS:
        raise ValueError(f"unsupported signing algorithm {alg}")
    kid = secrets.token_urlsafe(12)
    key = ECKey.generate_key(ALGORITHMS[alg], parameters={"kid": kid, "alg": alg, "use": "sig"})
    public = {k: str(v) for k, v in key.as_dict(private=False).items()}
    sealed = seal(encryption_key, key.as_pem(private=True), kid.encode())
    return SigningKey(kid=kid, alg=alg, private_key=sealed, public_jwk=public, created_at=now)


@dataclass(frozen=True, slots=True)
class LoadedKey:
    """A signing key ready to sign."""

    kid: str
    alg: str
    key: ECKey


def load_signing_key(record: SigningKey, encryption_key: bytes) -> LoadedKey:
    pem = unseal(encryption_key, record.private_key, record.kid.encode())
    key = ECKey.import_key(pem, parameters={"kid": record.kid, "alg": record.alg, "use": "sig"})
    return LoadedKey(kid=record.kid, alg=record.alg, key=key)


def jwks_document(records: Sequence[SigningKey]) -> dict[str, Any]:
    """The public JWKS: every key that may still have live tokens."""
    return {"keys": [dict(r.public_jwk) for r in records]}
