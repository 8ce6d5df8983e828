"""Client keys for ``private_key_jwt``: inline ``jwks``, or ``jwks_uri`` fetched with care.

A ``jwks_uri`` is fetched by ``SafeFetcher`` (``server.safe_fetch``): https only, its host
resolved and refused when any address is special-use (RFC 6890, REQ-AS-24), the connection
pinned to the checked address, no redirects, 5 seconds (``safe_fetch.FETCH_TIMEOUT``) for the whole
exchange, at most ``MAX_JWKS_BYTES``, status 200, then a JSON object with a ``keys`` list
(any content type). A good document is cached for ``CACHE_TTL`` seconds; failures are never
cached. When no cached key matches an assertion, the document is fetched again (at most once
per ``REFETCH_INTERVAL`` seconds per URI), so a client's key rotation takes effect at once.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ostiary.core.clock import Clock
from ostiary.core.errors import InvalidClient
from ostiary.core.models import Client
from ostiary.crypto.client_assertion import (
    AssertionRejected,
    NoMatchingKey,
    verify_client_assertion,
)
from ostiary.server.safe_fetch import FetchRefused, SafeFetcher

log = logging.getLogger("ostiary.server")

MAX_JWKS_BYTES = 64 * 1024
CACHE_TTL = 300
REFETCH_INTERVAL = 30
MAX_CACHED_URIS = 10_000


class JwksFetchError(Exception):
    """The ``jwks_uri`` could not be used (detail for the log, never for the client)."""


def parse_jwks(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise JwksFetchError("jwks_uri did not return JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksFetchError("jwks_uri did not return a JWK Set")
    return document


class JwksFetcher:
    """``jwks_uri`` documents, cached for ``CACHE_TTL`` seconds."""

    def __init__(
        self,
        clock: Clock,
        fetcher: SafeFetcher | None = None,
    ) -> None:
        self._clock = clock
        self._fetcher = fetcher or SafeFetcher()
        self._cache: dict[str, tuple[int, dict[str, Any]]] = {}  # uri -> (fetched_at, jwks)

    async def get(self, uri: str, *, refresh: bool = False) -> dict[str, Any]:
        """The cached document, or a fresh one; ``refresh`` asks for a new one if the cached
        copy is older than ``REFETCH_INTERVAL``."""
        now = self._clock.now()
        hit = self._cache.get(uri)
        if hit is not None:
            age = now - hit[0]
            if age < CACHE_TTL and not (refresh and age >= REFETCH_INTERVAL):
                return hit[1]
        document = await self._fetch(uri)
        if len(self._cache) >= MAX_CACHED_URIS:
            self._cache.clear()
        self._cache[uri] = (now, document)
        return document

    async def _fetch(self, uri: str) -> dict[str, Any]:
        try:
            fetched = await self._fetcher.get(uri, max_bytes=MAX_JWKS_BYTES, json_only=False)
        except FetchRefused as exc:
            raise JwksFetchError(f"jwks_uri not fetched: {exc}") from None
        return parse_jwks(fetched.body)


class KeyedAssertionVerifier:
    """``ClientAssertionVerifier``: the client's inline ``jwks``, else its ``jwks_uri``."""

    def __init__(self, fetcher: JwksFetcher) -> None:
        self._fetcher = fetcher

    async def verify(self, assertion: str, client: Client) -> dict[str, Any]:
        try:
            if client.jwks is not None:
                return verify_client_assertion(assertion, client.jwks)
            if client.jwks_uri is None:
                raise InvalidClient("the client has no registered keys")
            return await self._verify_by_uri(assertion, client.jwks_uri)
        except AssertionRejected as exc:
            raise InvalidClient(f"client assertion rejected: {exc}") from None
        except JwksFetchError as exc:
            log.warning("client %s: %s", client.client_id, exc)
            raise InvalidClient("the client's jwks_uri could not be used") from None

    async def _verify_by_uri(self, assertion: str, uri: str) -> dict[str, Any]:
        try:
            return verify_client_assertion(assertion, await self._fetcher.get(uri))
        except NoMatchingKey:
            return verify_client_assertion(assertion, await self._fetcher.get(uri, refresh=True))
