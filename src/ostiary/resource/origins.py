"""Which ``Origin`` and ``Host`` headers a protected MCP endpoint answers (DNS rebinding).

A web page on ``evil.example`` whose name is re-pointed at ``127.0.0.1`` talks to a local MCP
server from the browser: its requests carry ``Origin: http://evil.example`` and
``Host: evil.example``. REQ-RS-16 answers a present, untrusted ``Origin`` with 403. The ``Host``
check is the second wall for servers on loopback, as the official SDKs do it: there the only
names a real client uses are the loopback ones, so anything else is refused with 403 before
any token is looked at. A server on a public name has no such default (a reverse proxy may
rewrite ``Host``); ``allowed_hosts`` turns the check on for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from ostiary.core.redirect_uris import is_loopback_host

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
DEFAULT_PORTS = {"http": 80, "https": 443}
ANY = "*"


def normalize_origin(origin: str) -> str:
    return origin.lower().rstrip("/")


def parse_origin(value: str) -> str:
    """``scheme://host[:port]`` (http or https, nothing after the authority); ValueError else."""
    parts = urlsplit(value.rstrip("/"))
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{value}: an origin is http(s)://host[:port]")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{value}: an origin has no path, query, fragment or user")
    return normalize_origin(f"{parts.scheme}://{parts.netloc}")


def with_own_origin(resource: str, others: Iterable[str]) -> list[str] | None:
    """``allowed_origins`` for ``ProtectedMCP``: the resource's own origin and ``others``, or
    None (the default: its own only) when there are no others."""
    extra = list(others)
    if not extra:
        return None
    parts = urlsplit(resource)
    return [f"{parts.scheme}://{parts.netloc}", *extra]


def default_allowed_hosts(resource: str) -> frozenset[str] | None:
    """Every loopback spelling of ``resource``'s authority when it is on loopback, else None."""
    parts = urlsplit(resource)
    if parts.hostname is None or not is_loopback_host(parts.hostname):
        return None
    default = DEFAULT_PORTS.get(parts.scheme)
    port = parts.port or default
    hosts = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if port == default:
        hosts |= set(LOOPBACK_NAMES)
    return frozenset(hosts)


def allowed_host_set(resource: str, allowed_hosts: Iterable[str] | None) -> frozenset[str] | None:
    """The ``Host`` values to accept, or None for any: ``["*"]`` turns the check off."""
    if allowed_hosts is None:
        return default_allowed_hosts(resource)
    hosts = frozenset(h.lower() for h in allowed_hosts)
    return None if ANY in hosts else hosts


def host_allowed(host: str | None, allowed: frozenset[str] | None) -> bool:
    """A missing ``Host`` is refused whenever the check is on (HTTP/1.1 requires one)."""
    if allowed is None:
        return True
    return host is not None and host.lower() in allowed
