"""``LocalVerifier``: tokens of the Ostiary authorization server running in this process.

Keys come from the server's own ``KeyRing`` (the current key and retired keys still
published), so there is nothing to fetch. Revocation is read from the store: the token's
grant (``gid``) must exist, belong to the token's client and not be revoked. The answer
"this grant is live" is remembered for at most ``grant_ttl`` seconds (default 0.5 s), so a
revocation made anywhere (``/revoke``, reuse detection, ``ostiary grant revoke`` in another
process) reaches every request within that time; a revoked grant is remembered for good.
Signature checks are remembered for ``verified_ttl`` (60 s, never past ``exp``); the grant
is still asked about on every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Protocol

from joserfc.jwk import KeySet

from ostiary.core.clock import Clock, SystemClock
from ostiary.core.models import GrantId
from ostiary.resource.tokens import InvalidToken, VerifiedToken
from ostiary.resource.verifiers.claims import (
    DEFAULT_ALGORITHMS,
    DEFAULT_LEEWAY,
    verify_jwt_cached,
)
from ostiary.resource.verifiers.verified_cache import DEFAULT_TTL, VerifiedTokenCache
from ostiary.server.context import ServerContext
from ostiary.storage.protocols import GrantStore

DEFAULT_GRANT_TTL = 0.5  # seconds a "grant is live" answer is reused
DEFAULT_CACHE_SIZE = 10_000


class PublishedKeySet(Protocol):
    """What ``KeyRing`` offers: the published keys as a ``KeySet``."""

    @property
    def key_set(self) -> KeySet: ...


class GrantLiveness:
    """``grant_id -> (live, checked_at)``, bounded; live answers expire after ``ttl``."""

    def __init__(self, grants: GrantStore, ttl: float, size: int, timer: Callable[[], float]):
        self._grants = grants
        self._ttl = ttl
        self._size = size
        self._timer = timer
        self._seen: dict[str, tuple[bool, float]] = {}

    async def is_live(self, grant_id: str, client_id: str) -> bool:
        now = self._timer()
        seen = self._seen.get(grant_id)
        if seen is not None and (not seen[0] or now - seen[1] < self._ttl):
            return seen[0]
        grant = await self._grants.get_grant(GrantId(grant_id))
        live = grant is not None and grant.revoked_at is None and grant.client_id == client_id
        if self._ttl > 0 or not live:
            self._remember(grant_id, live, now)
        return live

    def _remember(self, grant_id: str, live: bool, now: float) -> None:
        self._seen.pop(grant_id, None)
        if len(self._seen) >= self._size:
            del self._seen[next(iter(self._seen))]  # the oldest answer
        self._seen[grant_id] = (live, now)


class LocalVerifier:
    """Verifies this server's own access tokens for one resource; see the module docstring."""

    def __init__(
        self,
        keys: PublishedKeySet,
        grants: GrantStore,
        *,
        issuer: str,
        resource: str,
        clock: Clock | None = None,
        grant_ttl: float = DEFAULT_GRANT_TTL,
        leeway: int = DEFAULT_LEEWAY,
        algorithms: Collection[str] = DEFAULT_ALGORITHMS,
        cache_size: int = DEFAULT_CACHE_SIZE,
        verified_ttl: float = DEFAULT_TTL,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self.issuer = issuer
        self.resource = resource
        self._clock = clock or SystemClock()
        self._leeway = leeway
        self._algorithms = tuple(algorithms)
        self._grants = GrantLiveness(grants, grant_ttl, cache_size, timer)
        self._verified = VerifiedTokenCache(verified_ttl, cache_size, timer)

    @classmethod
    def for_server(cls, ctx: ServerContext, resource: str | None = None) -> LocalVerifier:
        """Over a built server context; ``resource`` defaults to its first (default) one."""
        config = ctx.deps.config
        return cls(
            ctx.keyring,
            ctx.deps.storage,
            issuer=config.issuer,
            resource=resource or config.resources[0],
            clock=ctx.deps.clock,
        )

    async def _published(self) -> KeySet:
        return self._keys.key_set

    async def verify(self, token: str) -> VerifiedToken:
        verified = await verify_jwt_cached(
            token,
            self._verified,
            self._published,
            issuer=self.issuer,
            resource=self.resource,
            clock=self._clock,
            algorithms=self._algorithms,
            leeway=self._leeway,
        )
        if verified.grant_id is None:
            raise InvalidToken("the token names no grant")
        if not await self._grants.is_live(verified.grant_id, verified.client_id):
            raise InvalidToken("the token has been revoked")
        return verified
