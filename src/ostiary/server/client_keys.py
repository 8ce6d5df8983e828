"""Client keys for ``private_key_jwt``: inline ``jwks``, or ``jwks_uri`` fetched with care.

A ``jwks_uri`` is fetched with ``GET``, https only (plain http to a loopback host only when
``allow_http_loopback`` is set, which is for tests), no redirects, ``FETCH_TIMEOUT`` seconds
for the whole exchange, at most ``MAX_JWKS_BYTES``, status 200 and a JSON object with a
``keys`` list. A good document is cached for ``CACHE_TTL`` seconds; failures are never
cached. When no cached key matches an assertion, the document is fetched again (at most once
per ``REFETCH_INTERVAL`` seconds per URI), so a client's key rotation takes effect at once.

Host names are not resolved before fetching, so a name that resolves to a private address is
not refused here; IP literals in special-use ranges are (RFC 6890, REQ-AS-24).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import httpx

from ostiary.core.clock import Clock
from ostiary.core.errors import InvalidClient
from ostiary.core.models import Client
from ostiary.crypto.client_assertion import (
    AssertionRejected,
    NoMatchingKey,
    verify_client_assertion,
)

log = logging.getLogger("ostiary.server")

FETCH_TIMEOUT = 5.0
MAX_JWKS_BYTES = 64 * 1024
CACHE_TTL = 300
REFETCH_INTERVAL = 30
MAX_CACHED_URIS = 10_000
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class JwksFetchError(Exception):
    """The ``jwks_uri`` could not be used (detail for the log, never for the client)."""


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_jwks_uri(uri: str, *, allow_http_loopback: bool = False) -> None:
    """Refuse anything but https (or, for tests, http to loopback) and special-use IPs."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if not host or parts.username is not None or parts.password is not None:
        raise JwksFetchError("jwks_uri has no usable host")
    if parts.scheme == "http" and allow_http_loopback and _is_loopback(host):
        return
    if parts.scheme != "https":
        raise JwksFetchError("jwks_uri must be https")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host.lower() == "localhost":
            raise JwksFetchError("jwks_uri may not name localhost") from None
        return
    if not address.is_global:
        raise JwksFetchError("jwks_uri may not name a special-use address")


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
        *,
        allow_http_loopback: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._clock = clock
        self._allow_http_loopback = allow_http_loopback
        self._transport = transport
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
        check_jwks_uri(uri, allow_http_loopback=self._allow_http_loopback)
        try:
            async with asyncio.timeout(FETCH_TIMEOUT):
                return parse_jwks(await self._download(uri))
        except TimeoutError:
            raise JwksFetchError("jwks_uri timed out") from None
        except httpx.HTTPError as exc:
            raise JwksFetchError(f"jwks_uri failed: {type(exc).__name__}") from None

    async def _download(self, uri: str) -> bytes:
        async with (
            httpx.AsyncClient(
                transport=self._transport,
                follow_redirects=False,
                timeout=FETCH_TIMEOUT,
                trust_env=False,
            ) as http,
            http.stream("GET", uri, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise JwksFetchError(f"jwks_uri answered {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise JwksFetchError(f"jwks_uri document exceeds {MAX_JWKS_BYTES} bytes")
            return bytes(body)


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
