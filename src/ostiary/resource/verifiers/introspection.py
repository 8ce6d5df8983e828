"""``IntrospectionVerifier``: ask the authorization server (RFC 7662) whether a token is active.

Works for opaque and JWT tokens of any server with an ``introspection_endpoint`` (from its
metadata, or given). The resource server authenticates as a confidential client with
``client_secret_basic`` (RFC 6749 §2.3.1: both parts form-urlencoded first). An answer is
accepted only when ``active`` is ``true``, ``iss`` (when present) is the issuer exactly,
``aud`` contains this resource, ``exp`` (when present) has not passed beyond the skew, and
``token_type`` (when present) is an access token: a refresh token is never a bearer token.

Active answers are cached under a MAC of the token (the token itself is never kept), for
at most ``cache_ttl`` seconds (default 30) and never past the token's ``exp``; the cache holds
at most ``cache_size`` entries. A revocation therefore reaches this verifier within
``cache_ttl`` seconds. Inactive answers are not cached, nor are answers without ``exp``
(RFC 7662 makes it optional): their ``VerifiedToken.expires_at`` is the time of the answer.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from ostiary.core.clock import Clock, SystemClock
from ostiary.resource.tokens import InvalidToken, VerifiedToken
from ostiary.resource.verifiers.claims import (
    DEFAULT_LEEWAY,
    audiences_of,
    verified_token,
)
from ostiary.resource.verifiers.discovery import (
    DiscoveryError,
    check_url,
    discover,
    endpoint,
    new_client,
)
from ostiary.resource.verifiers.verified_cache import VerifiedTokenCache

DEFAULT_CACHE_TTL = 30.0
DEFAULT_CACHE_SIZE = 10_000
ACCESS_TOKEN_TYPES = frozenset({"bearer", "access_token", "dpop"})


def basic_auth(client_id: str, client_secret: str) -> str:
    """RFC 6749 §2.3.1: ``Basic base64(urlencode(id) ":" urlencode(secret))``."""
    pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode("ascii")


class IntrospectionVerifier:
    """Verifies any token by asking its authorization server; see the module docstring."""

    def __init__(
        self,
        issuer: str,
        resource: str,
        *,
        client_id: str,
        client_secret: str,
        introspection_endpoint: str | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        allow_http_loopback: bool = False,
        leeway: int = DEFAULT_LEEWAY,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        cache_size: int = DEFAULT_CACHE_SIZE,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self.resource = resource
        self._allow_http_loopback = allow_http_loopback
        self._endpoint = introspection_endpoint and check_url(
            introspection_endpoint, allow_http_loopback=allow_http_loopback
        )
        self._authorization = basic_auth(client_id, client_secret)
        self._http = http or new_client()
        self._owns_http = http is None
        self._clock = clock or SystemClock()
        self._leeway = leeway
        self._cache = VerifiedTokenCache(cache_ttl, cache_size, timer)
        self.requests = 0  # how many times the server was asked (observable in tests)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def verify(self, token: str) -> VerifiedToken:
        key = self._cache.key(token)
        cached = self._cache.get(key)
        if cached is not None:
            if cached.expires_at + self._leeway <= self._clock.now():
                raise InvalidToken("the token has expired")
            return cached
        verified = self._check(await self._introspect(token))
        self._cache.put(key, verified, verified.expires_at - self._clock.now())
        return verified

    async def _introspect(self, token: str) -> dict[str, Any]:
        url = await self._introspection_endpoint()
        self.requests += 1
        try:
            response = await self._http.post(
                url,
                data={"token": token, "token_type_hint": "access_token"},
                headers={"Authorization": self._authorization, "Accept": "application/json"},
            )
        except httpx.HTTPError:
            raise InvalidToken("the authorization server could not be asked") from None
        if response.status_code != 200:
            raise InvalidToken("the authorization server refused the introspection request")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise InvalidToken("the authorization server answered something other than JSON")
        return body

    async def _introspection_endpoint(self) -> str:
        if self._endpoint is None:
            try:
                document = await discover(
                    self._http, self.issuer, allow_http_loopback=self._allow_http_loopback
                )
                self._endpoint = endpoint(
                    document,
                    "introspection_endpoint",
                    allow_http_loopback=self._allow_http_loopback,
                )
            except DiscoveryError as exc:
                raise InvalidToken("the authorization server cannot be reached") from exc
        return self._endpoint

    def _check(self, answer: dict[str, Any]) -> VerifiedToken:
        """RFC 7662 §2.2 answer → ``VerifiedToken``, with the RFC 9068-equivalent checks."""
        if answer.get("active") is not True:
            raise InvalidToken("the token is not active")
        token_type = answer.get("token_type")
        if isinstance(token_type, str) and token_type.lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("the token is not an access token")
        if answer.get("iss", self.issuer) != self.issuer:
            raise InvalidToken("token issuer is not trusted")
        if self.resource not in audiences_of(answer.get("aud")):
            raise InvalidToken("token audience does not match")
        now, exp, nbf = self._clock.now(), answer.get("exp"), answer.get("nbf")
        if exp is not None and (not isinstance(exp, int) or exp + self._leeway <= now):
            raise InvalidToken("token has expired")
        if isinstance(nbf, int) and nbf - self._leeway > now:
            raise InvalidToken("token is not yet valid")
        return verified_token(
            {**answer, "iss": self.issuer, "exp": exp if exp is not None else now},
            subject_fallback=True,
        )
