"""Redirect URI matching: exact, except any port on loopback (RFC 8252 §7.3, OAuth 2.1 §8.4.2)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import SplitResult, urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]", "localhost"})


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` or a loopback IP literal (brackets around IPv6 allowed)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split(uri: str) -> SplitResult | None:
    try:
        parts = urlsplit(uri)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return None
    return parts


def is_loopback(uri: str) -> bool:
    parts = _split(uri)
    return bool(
        parts
        and parts.scheme == "http"
        and "@" not in parts.netloc
        and not parts.fragment
        and _host(parts) in LOOPBACK_HOSTS
    )


def _host(parts: SplitResult) -> str:
    host = parts.netloc.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host[: host.index("]") + 1] if "]" in host else host
    return host.split(":", 1)[0]


def _without_port(parts: SplitResult) -> tuple[str, str, str, str]:
    return (parts.scheme, _host(parts), parts.path, parts.query)


def redirect_uri_matches(requested: str, registered: str) -> bool:
    """Simple string comparison; for loopback http URIs the port alone may differ."""
    if requested == registered:
        return True
    if not (is_loopback(requested) and is_loopback(registered)):
        return False
    a, b = _split(requested), _split(registered)
    return a is not None and b is not None and _without_port(a) == _without_port(b)


def find_redirect_uri(requested: str, registered: Sequence[str]) -> bool:
    return any(redirect_uri_matches(requested, r) for r in registered)
