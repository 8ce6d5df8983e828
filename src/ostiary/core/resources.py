"""Resource indicators (RFC 8707): which protected resource a token is for."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

from ostiary.core.errors import InvalidTarget


def normalize_resource(uri: str) -> str:
    """Canonical form: lowercase scheme and host, no fragment, no trailing slash on the path.

    RFC 8707 §2 requires an absolute URI without a fragment; MCP's canonical server URI drops
    the trailing slash so ``https://H/mcp`` and ``https://H/mcp/`` are the same resource.
    """
    try:
        parts = urlsplit(uri)
    except ValueError:  # e.g. an unbalanced IPv6 bracket
        raise InvalidTarget("resource is not a valid URI") from None
    if not parts.scheme or not parts.netloc or parts.fragment or "#" in uri:
        raise InvalidTarget("resource must be an absolute URI without a fragment")
    if parts.scheme.lower() not in {"https", "http"}:
        raise InvalidTarget("resource must be an http or https URI")
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def select_resource(requested: Sequence[str], known: Sequence[str], default: str) -> str:
    """The one resource a request is for: the default when none is named."""
    if not requested:
        return default
    chosen = {normalize_resource(r) for r in requested}
    if len(chosen) > 1:
        raise InvalidTarget("only one resource may be requested at a time")
    resource = chosen.pop()
    if resource not in known:
        raise InvalidTarget("resource is not protected by this server")
    return resource
