"""Client ID Metadata Documents, fetched and cached for the core (REQ-AS-23, REQ-AS-24).

``MetadataDocumentClients`` is the ``ClientDocumentSource`` the server wires into ``Deps``.
A document is fetched with ``SafeFetcher`` (special-use addresses refused, no redirects,
``MAX_DOCUMENT_BYTES``, 5 s, status 200, JSON), validated by
``core.client_metadata_document``, and cached as the answer's HTTP cache headers say:
``Cache-Control: no-store`` / ``no-cache`` / ``max-age=0`` not at all; ``max-age=N``, else
``Expires`` (against ``Date``), clamped to ``MIN_CACHE``..``MAX_CACHE`` seconds; no header at
all, ``DEFAULT_CACHE``. Failures and refused documents are never cached.
"""

from __future__ import annotations

import json
import logging
from email.utils import parsedate_to_datetime

from ostiary.core.client_metadata_document import check_client_id_url, client_from_document
from ostiary.core.clock import Clock
from ostiary.core.errors import InvalidClient, InvalidRequest, OAuthError
from ostiary.core.models import Client, ClientId
from ostiary.server.safe_fetch import FetchRefused, SafeFetcher

log = logging.getLogger("ostiary.server")

MAX_DOCUMENT_BYTES = 5 * 1024  # CIMD §Maximum Response Size
MIN_CACHE = 60
MAX_CACHE = 24 * 3600
DEFAULT_CACHE = 300
MAX_CACHED_DOCUMENTS = 10_000


def _http_date(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def cache_lifetime(headers: dict[str, str], now: int) -> int:
    """Seconds to keep a document, from its answer's headers (0: do not keep it)."""
    directives: dict[str, str] = {}
    for part in headers.get("cache-control", "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.lower()] = value.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return 0
    if "max-age" in directives:
        seconds = int(directives["max-age"]) if directives["max-age"].isdigit() else 0
    elif "expires" in headers:
        expires = _http_date(headers["expires"])
        seconds = expires - (_http_date(headers.get("date")) or now) if expires else 0
    else:
        return DEFAULT_CACHE
    return 0 if seconds <= 0 else min(max(seconds, MIN_CACHE), MAX_CACHE)


class MetadataDocumentClients:
    """Clients read from their metadata documents, cached per the documents' headers."""

    def __init__(
        self, fetcher: SafeFetcher, clock: Clock, scopes_supported: tuple[str, ...]
    ) -> None:
        self._fetcher = fetcher
        self._clock = clock
        self._scopes = scopes_supported
        self._cache: dict[str, tuple[int, Client]] = {}  # url -> (expires_at, client)

    async def get_client(self, client_id: ClientId) -> Client | None:
        now = self._clock.now()
        hit = self._cache.get(client_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        self._cache.pop(client_id, None)
        check_client_id_url(client_id)
        try:
            fetched = await self._fetcher.get(client_id, max_bytes=MAX_DOCUMENT_BYTES)
        except FetchRefused as exc:
            log.warning("client metadata document %s: %s", client_id, exc)
            raise InvalidClient(
                f"the client metadata document could not be fetched: {exc}"
            ) from None
        client = self._validate(client_id, fetched.body, now)
        ttl = cache_lifetime(fetched.headers, now)
        if ttl > 0:
            if len(self._cache) >= MAX_CACHED_DOCUMENTS:
                self._cache.clear()
            self._cache[client_id] = (now + ttl, client)
        return client

    def _validate(self, url: str, body: bytes, now: int) -> Client:
        try:
            document = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise InvalidClient("the client metadata document is not JSON") from None
        try:
            return client_from_document(url, document, self._scopes, now=now)
        except (InvalidClient, InvalidRequest):
            raise
        except OAuthError as exc:
            log.warning("client metadata document %s refused: %s", url, exc.description)
            raise InvalidClient(
                f"the client metadata document was refused: {exc.description}"
            ) from None
