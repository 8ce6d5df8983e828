"""Finding an external authorization server's endpoints from its issuer URL.

RFC 8414 §3: ``/.well-known/oauth-authorization-server`` inserted before the issuer's path,
then OpenID Connect Discovery (inserted, then appended). The document's ``issuer`` must equal
the configured one exactly (RFC 8414 §3.3), or it is not used. Every URL must be https;
plain http is allowed only to a loopback host, and only with ``allow_http_loopback`` (tests,
local development).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from ostiary.core.redirect_uris import is_loopback_host

DEFAULT_TIMEOUT = 5.0
MAX_DOCUMENT_BYTES = 256 * 1024


class DiscoveryError(Exception):
    """The authorization server's metadata or keys could not be obtained or trusted."""


def check_url(url: str, *, allow_http_loopback: bool) -> str:
    """``url`` if it is https (or http to loopback when allowed); ``DiscoveryError`` if not."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and allow_http_loopback and is_loopback_host(parts.hostname or ""):
        return url
    raise DiscoveryError(f"refusing a non-https URL for the authorization server: {url}")


def metadata_urls(issuer: str) -> list[str]:
    """RFC 8414 §3.1 path insertion, then both OpenID Connect Discovery forms."""
    parts = urlsplit(issuer)
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    urls = [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}/.well-known/openid-configuration{path}",
        f"{issuer.rstrip('/')}/.well-known/openid-configuration",
    ]
    return list(dict.fromkeys(urls))


def new_client(timeout: float = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    """No redirects (a redirect could lead anywhere), a short timeout."""
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False)


async def get_json(http: httpx.AsyncClient, url: str, *, allow_http_loopback: bool) -> Any:
    """The JSON body of a 200 answer to ``GET url``."""
    check_url(url, allow_http_loopback=allow_http_loopback)
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise DiscoveryError(f"{url} did not answer ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise DiscoveryError(f"{url} answered {response.status_code}")
    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise DiscoveryError(f"{url} answered with an oversized document")
    try:
        return response.json()
    except ValueError:
        raise DiscoveryError(f"{url} did not answer JSON") from None


async def discover(
    http: httpx.AsyncClient, issuer: str, *, allow_http_loopback: bool
) -> dict[str, Any]:
    """The first metadata document found whose ``issuer`` is exactly ``issuer``."""
    check_url(issuer, allow_http_loopback=allow_http_loopback)
    failures: list[str] = []
    for url in metadata_urls(issuer):
        try:
            document = await get_json(http, url, allow_http_loopback=allow_http_loopback)
        except DiscoveryError as exc:
            failures.append(str(exc))
            continue
        if not isinstance(document, dict) or document.get("issuer") != issuer:
            raise DiscoveryError(f"{url} names another issuer than {issuer}")
        return document
    raise DiscoveryError("no authorization server metadata: " + "; ".join(failures))


def endpoint(document: dict[str, Any], name: str, *, allow_http_loopback: bool) -> str:
    value = document.get(name)
    if not isinstance(value, str):
        raise DiscoveryError(f"the authorization server metadata has no {name}")
    return check_url(value, allow_http_loopback=allow_http_loopback)
