"""Which addresses an outgoing request may reach, and connecting only to those (SSRF).

Shared by the server (``server/safe_fetch.py``: client metadata documents, ``jwks_uri``) and
the client (``client/guarded_http.py``: a server-deployed client's OAuth requests, REQ-CL-25).
An address is refused when it is special-use: loopback, private (10/8, 172.16/12,
192.168/16, fc00::/7), link-local, shared (100.64/10), multicast, unspecified, reserved,
documentation, any IPv4-mapped address, or a 6to4 or Teredo IPv6 address wrapping a
special-use IPv4 address (``ipaddress``, never string matching). ``PinnedBackend`` then dials
exactly the addresses that were checked, so a second DNS answer cannot swap in another.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

import httpcore

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class FetchRefused(Exception):
    """The URL was not fetched, or its answer not accepted; the message says why."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``getaddrinfo`` gives for ``host`` (without blocking the loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, 6to4 or Teredo IPv6 address carries, if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def is_special_use(address: IPAddress) -> bool:
    """RFC 6890 special-use (or not globally routable) addresses, and multicast."""
    inner = embedded_ipv4(address)
    if inner is not None and is_special_use(inner):
        return True
    return (
        not address.is_global
        or address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_reserved
    )


def is_loopback_address(address: IPAddress) -> bool:
    inner = embedded_ipv4(address)
    return address.is_loopback or (inner is not None and inner.is_loopback)


def check_addresses(addresses: Iterable[str], *, allow_loopback: bool, plain_http: bool) -> None:
    """Refuse when any address is special-use (loopback only in test mode); http needs loopback."""
    parsed = [ipaddress.ip_address(a.split("%", 1)[0]) for a in addresses]
    if not parsed:
        raise FetchRefused("the host has no address")
    for address in parsed:
        if allow_loopback and is_loopback_address(address):
            continue
        if is_special_use(address):
            raise FetchRefused("the host resolves to a special-use address")
        if plain_http:
            raise FetchRefused("plain http is only allowed to a loopback host")


async def checked_addresses(url: str, *, resolver: Resolver, allow_loopback: bool) -> list[str]:
    """The addresses ``url`` may be fetched at: https only (plain http to loopback when
    ``allow_loopback``), a host without user info, every address it resolves to allowed.
    Connect to exactly these (``PinnedBackend``); ``FetchRefused`` says which rule failed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FetchRefused("the URL is malformed") from None
    plain_http = parts.scheme == "http" and allow_loopback
    if parts.scheme != "https" and not plain_http:
        raise FetchRefused("only https URLs are fetched")
    host = parts.hostname
    if not host or parts.username is not None or parts.password is not None:
        raise FetchRefused("the URL has no usable host")
    try:
        addresses = (
            [host]
            if is_ip(host)
            else list(await resolver(host, port or (80 if plain_http else 443)))
        )
        check_addresses(addresses, allow_loopback=allow_loopback, plain_http=plain_http)
    except (OSError, ValueError):
        raise FetchRefused("the host name could not be resolved") from None
    return addresses


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Dials only the pre-checked addresses, whatever host name the connection is for."""

    def __init__(self, addresses: Sequence[str]) -> None:
        self._addresses = tuple(addresses)
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last: Exception = httpcore.ConnectError("no address to connect to")
        for address in self._addresses:
            try:
                return await self._backend.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                last = exc
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never used")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
