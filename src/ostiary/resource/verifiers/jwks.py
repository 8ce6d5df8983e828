"""``JwksVerifier``: JWT access tokens of an external authorization server, by its issuer.

``jwks_uri`` comes from the issuer's metadata (``discovery``). The JWKS is cached and reread
when it is older than ``max_age`` (default 300 s, so removed keys stop verifying), and at
once when a token names a ``kid`` it lacks, at most once per ``refetch_interval`` (default
30 s, so a stream of made-up ``kid``\\ s cannot turn into a stream of fetches). Revocation is
not visible to a JWT verifier: a revoked token verifies until its ``exp``; use
``IntrospectionVerifier`` (or ``LocalVerifier`` in process) where that matters.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ostiary.core.clock import Clock, SystemClock
from ostiary.resource.tokens import InvalidToken, VerifiedToken
from ostiary.resource.verifiers.claims import (
    DEFAULT_ALGORITHMS,
    DEFAULT_LEEWAY,
    asymmetric_key_set,
    jose_header,
    verify_jwt_cached,
)
from ostiary.resource.verifiers.discovery import (
    DiscoveryError,
    check_url,
    discover,
    endpoint,
    get_json,
    new_client,
)
from ostiary.resource.verifiers.verified_cache import (
    DEFAULT_SIZE,
    DEFAULT_TTL,
    VerifiedTokenCache,
)

DEFAULT_REFETCH_INTERVAL = 30.0  # at most one fetch per this many seconds for unknown kids
DEFAULT_MAX_AGE = 300.0  # a JWKS older than this is reread before use


class JwksVerifier:
    """Verifies another server's JWT access tokens for one resource; see the module docstring."""

    def __init__(
        self,
        issuer: str,
        resource: str,
        *,
        jwks_uri: str | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        allow_http_loopback: bool = False,
        algorithms: Collection[str] = DEFAULT_ALGORITHMS,
        leeway: int = DEFAULT_LEEWAY,
        refetch_interval: float = DEFAULT_REFETCH_INTERVAL,
        max_age: float = DEFAULT_MAX_AGE,
        timer: Callable[[], float] = time.monotonic,
        verified_ttl: float = DEFAULT_TTL,
    ) -> None:
        self.issuer = issuer
        self.resource = resource
        self._allow_http_loopback = allow_http_loopback
        self._jwks_uri = jwks_uri and check_url(jwks_uri, allow_http_loopback=allow_http_loopback)
        self._http = http or new_client()
        self._owns_http = http is None
        self._clock = clock or SystemClock()
        self._algorithms = tuple(algorithms)
        self._leeway = leeway
        self._refetch_interval = refetch_interval
        self._max_age = max_age
        self._timer = timer
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many times the JWKS was read (observable in tests)
        self._verified = VerifiedTokenCache(verified_ttl, DEFAULT_SIZE, timer)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def verify(self, token: str) -> VerifiedToken:
        async def keys() -> KeySet:
            return await self._keys_for(jose_header(token, self._algorithms)["kid"])

        return await verify_jwt_cached(
            token,
            self._verified,
            keys,
            issuer=self.issuer,
            resource=self.resource,
            clock=self._clock,
            algorithms=self._algorithms,
            leeway=self._leeway,
        )

    async def _keys_for(self, kid: str) -> KeySet:
        async with self._lock:
            if self._needs_fetch(kid):
                try:
                    await self._fetch()
                except DiscoveryError as exc:
                    if self._keys is None:
                        raise InvalidToken(
                            "the authorization server's keys are unavailable"
                        ) from exc
            if self._keys is None:
                raise InvalidToken("the authorization server's keys are unavailable")
            if kid not in self._kids:
                raise InvalidToken("the token is signed with an unknown key")
            return self._keys

    def _needs_fetch(self, kid: str) -> bool:
        if self._fetched_at is None:
            return True
        age = self._timer() - self._fetched_at
        return age >= self._max_age or (kid not in self._kids and age >= self._refetch_interval)

    async def _fetch(self) -> None:
        self._fetched_at = self._timer()  # a failed attempt counts too: no hammering
        self.fetches += 1
        if self._jwks_uri is None:
            document = await discover(
                self._http, self.issuer, allow_http_loopback=self._allow_http_loopback
            )
            self._jwks_uri = endpoint(
                document, "jwks_uri", allow_http_loopback=self._allow_http_loopback
            )
        jwks = await get_json(
            self._http, self._jwks_uri, allow_http_loopback=self._allow_http_loopback
        )
        try:
            keys = asymmetric_key_set(jwks if isinstance(jwks, dict) else {})
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise DiscoveryError("the JWKS is malformed") from exc
        self._keys = keys
        self._kids = frozenset(str(k.kid) for k in keys.keys)
