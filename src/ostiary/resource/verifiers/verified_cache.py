"""Verified tokens remembered for a short while, so a busy endpoint checks each token once.

Used by all three verifiers: for the JWT ones an ECDSA check and the JOSE decoding around it
cost about as much as everything else the protection does per request (``bench/mcp_endpoint``);
for introspection it saves a round trip. Entries are keyed by a MAC of the token under a
random per-process key (keyed BLAKE2b, RFC 7693 §2.9: one call, about half the cost of
HMAC-SHA256 on a token; the token itself is never kept), live at most ``ttl`` seconds and never
past the lifetime the caller gives (the token's remaining time), and when the cache is full the
dead entries go first, then the oldest. Callers still check expiry on a hit, against their
clock, and still ask about revocation where they can know it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

from ostiary.resource.tokens import VerifiedToken

DEFAULT_TTL = 60.0
DEFAULT_SIZE = 10_000


class VerifiedTokenCache:
    """``MAC(token) -> (verified token, deadline on timer)``, bounded."""

    def __init__(self, ttl: float, size: int, timer: Callable[[], float]) -> None:
        self._ttl, self._size, self._timer = ttl, size, timer
        self._key = secrets.token_bytes(32)
        self._entries: dict[bytes, tuple[VerifiedToken, float]] = {}

    def key(self, token: str) -> bytes:
        return hashlib.blake2b(token.encode(), key=self._key, digest_size=32).digest()

    def get(self, key: bytes) -> VerifiedToken | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._timer() >= entry[1]:
            del self._entries[key]
            return None
        return entry[0]

    def put(self, key: bytes, verified: VerifiedToken, seconds_left: float) -> None:
        lifetime = min(self._ttl, seconds_left)
        if lifetime <= 0 or self._size <= 0:
            return
        if len(self._entries) >= self._size:
            now = self._timer()
            for stale in [k for k, (_, deadline) in self._entries.items() if deadline <= now]:
                del self._entries[stale]
            while len(self._entries) >= self._size:
                del self._entries[next(iter(self._entries))]
        self._entries[key] = (verified, self._timer() + lifetime)

    def __len__(self) -> int:
        return len(self._entries)
