"""Signature checks remembered for a short while, so a busy endpoint verifies each token once.

An ECDSA check and the JOSE decoding around it cost about as much as everything else the
protection does per request (``bench/mcp_endpoint``). The cache is keyed by an HMAC of the
token under a random per-process key (the token itself is never kept), and an entry lives
at most ``ttl`` seconds and never past the token's ``exp`` (plus the verifier's leeway).
Only the signature and claim checks are skipped on a hit: revocation is still asked on every
request by the verifier that can know it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from ostiary.core.clock import Clock
from ostiary.resource.tokens import VerifiedToken

DEFAULT_TTL = 60.0
DEFAULT_SIZE = 10_000


class VerifiedTokenCache:
    """``HMAC(token) -> (verified token, monotonic deadline)``, bounded."""

    def __init__(
        self,
        clock: Clock,
        *,
        leeway: int,
        ttl: float = DEFAULT_TTL,
        size: int = DEFAULT_SIZE,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._leeway = leeway
        self._ttl = ttl
        self._size = size
        self._timer = timer
        self._key = secrets.token_bytes(32)
        self._entries: dict[bytes, tuple[VerifiedToken, float]] = {}

    def _digest(self, token: str) -> bytes:
        return hmac.new(self._key, token.encode(), hashlib.sha256).digest()

    def get(self, token: str) -> VerifiedToken | None:
        if self._ttl <= 0:
            return None
        digest = self._digest(token)
        entry = self._entries.get(digest)
        if entry is None:
            return None
        verified, deadline = entry
        if self._timer() >= deadline or verified.expires_at + self._leeway <= self._clock.now():
            del self._entries[digest]
            return None
        return verified

    def put(self, token: str, verified: VerifiedToken) -> None:
        if self._ttl <= 0:
            return
        if len(self._entries) >= self._size:
            self._entries.clear()  # rare; a fresh start costs one verification per token
        self._entries[self._digest(token)] = (verified, self._timer() + self._ttl)
