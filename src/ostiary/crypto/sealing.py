"""Authenticated encryption (AES-256-GCM) for the few things kept encrypted at rest.

Used for signing keys (under the server key) and for the successor of a rotated refresh
token (under a key derived from the presented refresh token itself, so only its holder can
read it back during the grace window).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE = 12


class SealError(Exception):
    """The sealed value was tampered with or the key is wrong."""


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A 256-bit key for one purpose (HKDF-SHA256, RFC 5869)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        secret
    )


def seal(key: bytes, plaintext: bytes, context: bytes = b"") -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def unseal(key: bytes, sealed: bytes, context: bytes = b"") -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], context)
    except (InvalidTag, ValueError) as exc:
        raise SealError("cannot open sealed value") from exc


class TokenSealer:
    """Seals data under a key derived from a bearer secret (a refresh token)."""

    def seal(self, secret: str, plaintext: bytes) -> bytes:
        return seal(derive_key(secret.encode(), "ostiary refresh successor"), plaintext)

    def unseal(self, secret: str, sealed: bytes) -> bytes:
        return unseal(derive_key(secret.encode(), "ostiary refresh successor"), sealed)
