"""Opaque secrets: generation, and the keyed hash that is all a store ever keeps."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token(nbytes: int = 32) -> str:
    """A URL-safe random string of ``nbytes`` of entropy (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)


class TokenHasher:
    """HMAC-SHA256 under a server key, so a database dump holds no usable code or token."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("token hashing key must be at least 32 bytes")
        self._key = key

    def hash(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()
