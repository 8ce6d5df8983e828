"""Find where an MCP server's tokens come from: resource and authorization-server metadata.

The pure half builds the URLs to probe, in the order the MCP specification gives
(REQ-CL-2, REQ-CL-4), validates what comes back (REQ-CL-3, -5, -6, -26), picks the scope to
ask for (REQ-CL-11) and gives the RFC 8707 ``resource`` value. ``discover`` is the one
function that does HTTP; it never follows redirects, and it tells "nothing here" (404, not
JSON: try the next URL) from "the server is broken" (5xx, 429, network: stop).

Without any protected-resource metadata the server is taken for a 2025-03-26 one
(REQ-CL-27): its metadata is read at the root of the MCP origin, and when that is missing too
the endpoints are guessed (``/authorize``, ``/token``, ``/register``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

from ostiary.client.errors import DiscoveryError
from ostiary.client.models import Challenge, ResourceMetadata, ServerMetadata
from ostiary.core.redirect_uris import is_loopback_host

PRM_WELL_KNOWN = "/.well-known/oauth-protected-resource"
OAUTH_WELL_KNOWN = "/.well-known/oauth-authorization-server"
OIDC_WELL_KNOWN = "/.well-known/openid-configuration"
LEGACY_PROTOCOL_VERSION = "2025-03-26"
JSON_HEADERS = {"Accept": "application/json"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


# --- URLs -------------------------------------------------------------------------------------


def canonical_resource(mcp_url: str) -> str:
    """RFC 8707 form of the MCP URL: lower-case scheme and host, no default port, no fragment.

    The path (and query) are kept; a lone ``/`` path is dropped, so ``https://h/`` and
    ``https://h`` name one resource. This is the ``resource`` parameter and the session key.
    """
    parts = urlsplit(mcp_url)
    scheme = parts.scheme.lower()
    path = "" if parts.path == "/" else parts.path
    return urlunsplit((scheme, _authority(parts), path, parts.query, ""))


def _authority(parts: SplitResult) -> str:
    """``host[:port]`` lower-cased, IPv6 bracketed, default port dropped, userinfo dropped."""
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or port == _DEFAULT_PORTS.get(parts.scheme.lower()):
        return host
    return f"{host}:{port}"


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, normalised as in ``canonical_resource``."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{_authority(parts)}"


def is_absolute_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme.lower() in _DEFAULT_PORTS and bool(parts.hostname)


def is_secure_url(url: str) -> bool:
    """``https``, or ``http`` on a loopback host (REQ-CL-26)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not parts.hostname:
        return False
    return scheme == "https" or (scheme == "http" and is_loopback_host(parts.hostname))


def protected_resource_urls(mcp_url: str, header_url: str | None) -> list[str]:
    """Where to look for RFC 9728 metadata, in REQ-CL-2 order, without duplicates.

    The ``resource_metadata`` URL of the challenge comes first (only when it is an absolute
    http(s) URL), then the path-inserted well-known URL, then the root one.
    """
    parts = urlsplit(mcp_url)
    base = f"{parts.scheme}://{parts.netloc}"
    path = "" if parts.path == "/" else parts.path
    candidates = [f"{base}{PRM_WELL_KNOWN}{path}", f"{base}{PRM_WELL_KNOWN}"]
    if header_url and is_absolute_http_url(header_url):
        candidates.insert(0, header_url)
    return list(dict.fromkeys(candidates))


def authorization_server_urls(issuer: str) -> list[str]:
    """Where to look for the metadata of ``issuer``, in REQ-CL-4 order (RFC 8414 §3.1).

    A path issuer is never probed at the root RFC 8414 URL: that document belongs to
    another issuer on the same host.
    """
    parts = urlsplit(issuer)
    base = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    if not path:
        return [f"{base}{OAUTH_WELL_KNOWN}", f"{base}{OIDC_WELL_KNOWN}"]
    return [
        f"{base}{OAUTH_WELL_KNOWN}{path}",
        f"{base}{OIDC_WELL_KNOWN}{path}",
        f"{base}{path}{OIDC_WELL_KNOWN}",
    ]


def _covers(resource: str, mcp_url: str) -> bool:
    """Same origin, and the MCP path equals the resource path or lies below it, by segments."""
    if origin(resource) != origin(mcp_url):
        return False
    base = urlsplit(resource).path.rstrip("/")
    path = urlsplit(mcp_url).path.rstrip("/")
    return path == base or path.startswith(base + "/")


# --- validation -------------------------------------------------------------------------------


def _object(doc: object, what: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise DiscoveryError(f"The {what} is not a JSON object.")
    return doc


def _strings(doc: dict[str, Any], name: str, what: str) -> tuple[str, ...] | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DiscoveryError(f"The {what} field {name!r} is not a list of strings: {value!r}.")
    return tuple(value)


def validate_resource_metadata(doc: object, mcp_url: str) -> ResourceMetadata:
    """RFC 9728 metadata that really describes ``mcp_url`` (REQ-CL-3), or ``DiscoveryError``."""
    what = "protected resource metadata"
    data = _object(doc, what)
    resource = data.get("resource")
    if not isinstance(resource, str) or not is_absolute_http_url(resource):
        raise DiscoveryError(f"The {what} field 'resource' is missing or not a URL: {resource!r}.")
    if not _covers(resource, mcp_url):
        raise DiscoveryError(
            f"The {what} field 'resource' is {resource!r}, which does not cover the MCP server "
            f"{mcp_url!r}: refusing to ask for tokens on its behalf."
        )
    servers = data.get("authorization_servers")
    if (
        not isinstance(servers, list)
        or not servers
        or not all(is_absolute_http_url(s) for s in servers)
    ):
        raise DiscoveryError(
            f"The {what} field 'authorization_servers' must be a non-empty list of absolute "
            f"URLs, got {servers!r}."
        )
    name = data.get("resource_name")
    return ResourceMetadata(
        resource=resource,
        authorization_servers=tuple(servers),
        scopes_supported=_strings(data, "scopes_supported", what),
        resource_name=name if isinstance(name, str) else None,
    )


def _check_issuer(found: object, issuer: str, *, legacy: bool) -> str:
    """The document's issuer; equal to ``issuer`` (REQ-CL-5) or, in legacy mode, same origin."""
    what = "authorization server metadata"
    if not isinstance(found, str) or not found:
        raise DiscoveryError(f"The {what} has no 'issuer'.")
    if found == issuer or _root_spellings(found, issuer):
        return found
    # 2025-03-26 servers publish their metadata at the MCP origin's root: its issuer may be
    # the origin with a slash, or a path on it (the conformance fixture says ``<root>/oauth``).
    if legacy and is_absolute_http_url(found) and origin(found) == origin(issuer):
        return found
    raise DiscoveryError(
        f"The {what} field 'issuer' is {found!r} but the metadata was looked up for issuer "
        f"{issuer!r}; they must be identical (RFC 8414 §3.3)."
    )


def _root_spellings(found: str, issuer: str) -> bool:
    """``https://as.example`` and ``https://as.example/``: the one difference tolerated.

    Both name the same root issuer, and resource servers built on pydantic URLs (FastMCP
    among them) always publish the second in ``authorization_servers`` while the server's
    own metadata says the first. Any other difference (a path, case, a port) is refused.
    """
    shorter, longer = sorted((found, issuer), key=len)
    return longer == shorter + "/" and urlsplit(shorter).path == ""


def _optional_endpoint(data: dict[str, Any], name: str) -> str | None:
    return None if data.get(name) is None else _endpoint(data, name)


def _endpoint(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise DiscoveryError(f"The authorization server metadata has no {name!r}.")
    if not is_secure_url(value):
        raise DiscoveryError(
            f"The authorization server metadata field {name!r} is {value!r}: endpoints must use "
            "https (http is only allowed on a loopback host)."
        )
    return value


def validate_server_metadata(doc: object, issuer: str, *, legacy: bool = False) -> ServerMetadata:
    """RFC 8414 / OpenID metadata for ``issuer``, checked, or ``DiscoveryError``.

    REQ-CL-5: ``issuer`` identical to the one the URL was built from (``legacy`` relaxes this
    to "same origin"); REQ-CL-6: PKCE ``S256`` advertised; REQ-CL-26: secure endpoints.
    """
    what = "authorization server metadata"
    data = _object(doc, what)
    found = _check_issuer(data.get("issuer"), issuer, legacy=legacy)
    if not is_secure_url(found):
        raise DiscoveryError(f"The issuer {found!r} must use https (http only on loopback).")
    methods = _strings(data, "code_challenge_methods_supported", what)
    if methods is None or "S256" not in methods:
        raise DiscoveryError(
            f"The authorization server {found!r} does not advertise PKCE S256 "
            f"(code_challenge_methods_supported={list(methods or [])!r}); refusing to authorize."
        )
    return ServerMetadata(
        issuer=found,
        authorization_endpoint=_endpoint(data, "authorization_endpoint"),
        token_endpoint=_endpoint(data, "token_endpoint"),
        registration_endpoint=_optional_endpoint(data, "registration_endpoint"),
        revocation_endpoint=_optional_endpoint(data, "revocation_endpoint"),
        scopes_supported=_strings(data, "scopes_supported", what),
        code_challenge_methods_supported=methods,
        token_endpoint_auth_methods_supported=_strings(
            data, "token_endpoint_auth_methods_supported", what
        ),
        grant_types_supported=_strings(data, "grant_types_supported", what),
        client_id_metadata_document_supported=(
            data.get("client_id_metadata_document_supported") is True
        ),
        authorization_response_iss_parameter_supported=(
            data.get("authorization_response_iss_parameter_supported") is True
        ),
        legacy=legacy,
    )


def legacy_fallback(mcp_url: str) -> ServerMetadata:
    """The endpoints a 2025-03-26 server without metadata is assumed to have (REQ-CL-27)."""
    root = origin(mcp_url)
    return ServerMetadata(
        issuer=root,
        authorization_endpoint=f"{root}/authorize",
        token_endpoint=f"{root}/token",
        registration_endpoint=f"{root}/register",
        code_challenge_methods_supported=("S256",),
        legacy=True,
    )


def select_scope(
    challenge: Challenge | None, prm: ResourceMetadata | None, server: ServerMetadata
) -> str | None:
    """The scope to request (REQ-CL-11): the challenge's, else all PRM scopes, else none.

    ``offline_access`` is added to a non-empty scope only when the authorization server's
    own metadata lists it (SEP-2207); an omitted scope stays omitted.
    """
    scope: str | None = None
    if challenge is not None and challenge.scope and challenge.scope.strip():
        scope = " ".join(challenge.scope.split())
    elif prm is not None and prm.scopes_supported:
        scope = " ".join(prm.scopes_supported)
    if scope is None:
        return None
    if "offline_access" in (server.scopes_supported or ()) and (
        "offline_access" not in scope.split()
    ):
        scope = f"{scope} offline_access"
    return scope


# --- HTTP -------------------------------------------------------------------------------------


async def _get_json(
    http: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
) -> tuple[int, object | None]:
    """``(status, document)``: the document is None when the body is not JSON.

    Redirects are refused, and so are server errors, rate limiting and network failures:
    they say nothing about whether the document exists.
    """
    try:
        response = await http.get(
            url, headers={**JSON_HEADERS, **(headers or {})}, follow_redirects=False
        )
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise DiscoveryError(f"Could not fetch {url}: {exc.__class__.__name__}: {exc}") from exc
    status = response.status_code
    if 300 <= status < 400:
        raise DiscoveryError(
            f"{url} answered {status} redirecting to {response.headers.get('location')!r}; "
            "metadata requests do not follow redirects."
        )
    if status >= 500 or status == 429:
        raise DiscoveryError(f"{url} answered {status}; try again later.")
    if status != 200:
        return status, None
    try:
        return status, response.json()
    except ValueError:
        return status, None


async def fetch_resource_metadata(
    http: httpx.AsyncClient, mcp_url: str, header_url: str | None
) -> ResourceMetadata | None:
    """The first protected-resource metadata found, validated; None when there is none."""
    for url in protected_resource_urls(mcp_url, header_url):
        status, doc = await _get_json(http, url)
        if status == 200 and doc is not None:
            return validate_resource_metadata(doc, mcp_url)
    return None


async def fetch_server_metadata(http: httpx.AsyncClient, issuer: str) -> ServerMetadata:
    """The metadata of ``issuer`` from the first well-known URL that has it (REQ-CL-4)."""
    urls = authorization_server_urls(issuer)
    for url in urls:
        status, doc = await _get_json(http, url)
        if status == 200 and doc is not None:
            return validate_server_metadata(doc, issuer)
    raise DiscoveryError(
        f"No authorization server metadata for {issuer!r}; tried {', '.join(urls)}."
    )


async def fetch_legacy_metadata(
    http: httpx.AsyncClient, mcp_url: str, protocol_version: str | None = None
) -> ServerMetadata:
    """A 2025-03-26 server's metadata at its origin's root, else the guessed endpoints."""
    root = origin(mcp_url)
    url = f"{root}{OAUTH_WELL_KNOWN}"
    headers = {"MCP-Protocol-Version": protocol_version or LEGACY_PROTOCOL_VERSION}
    status, doc = await _get_json(http, url, headers)
    if status == 200 and doc is not None:
        return validate_server_metadata(doc, root, legacy=True)
    return legacy_fallback(mcp_url)


async def discover(
    http: httpx.AsyncClient,
    mcp_url: str,
    challenge: Challenge | None,
    *,
    protocol_version: str | None = None,
) -> tuple[ResourceMetadata | None, ServerMetadata]:
    """The MCP server's resource metadata (if any) and its authorization server's metadata.

    With resource metadata, its first authorization server is used; without, the 2025-03-26
    rules apply (REQ-CL-27).
    """
    header_url = challenge.resource_metadata if challenge is not None else None
    prm = await fetch_resource_metadata(http, mcp_url, header_url)
    if prm is None:
        return None, await fetch_legacy_metadata(http, mcp_url, protocol_version)
    return prm, await fetch_server_metadata(http, prm.authorization_servers[0])
