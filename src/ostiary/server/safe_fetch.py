"""Fetch a small public document without letting its URL reach inside our network (SSRF).

Used for Client ID Metadata Documents and ``jwks_uri`` (REQ-AS-24, SEC-9). ``SafeFetcher.get``:

1. accepts ``https`` only (``http`` too, and only to loopback, when ``allow_loopback`` is set:
   a test mode, announced loudly at startup);
2. resolves the host (``getaddrinfo``, or the injected resolver) and refuses the URL if ANY
   address is special-use: loopback, private (10/8, 172.16/12, 192.168/16, fc00::/7),
   link-local, shared (100.64/10), multicast, unspecified, reserved, documentation, any
   IPv4-mapped address, or a 6to4 or Teredo IPv6 address wrapping a special-use IPv4
   address (``ipaddress``, never string matching);
3. connects to exactly the addresses it checked (``PinnedBackend``), so a second DNS answer
   cannot swap in another address; TLS still verifies the certificate for the host name;
4. sends one ``GET``, follows no redirect, accepts only ``200``, reads at most ``max_bytes``,
   and gives up after ``timeout`` seconds for the whole exchange.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

import httpcore
import httpx

from ostiary.net.addresses import (
    FetchRefused,
    PinnedBackend,
    Resolver,
    checked_addresses,
    system_resolver,
)

__all__ = ["FetchRefused", "Fetched", "SafeFetcher"]  # FetchRefused: its errors

FETCH_TIMEOUT = 5.0
USER_AGENT = "ostiary-metadata-fetcher"


@dataclass(frozen=True, slots=True)
class Fetched:
    """A 200 answer: its body and headers (names lowercased)."""

    body: bytes
    headers: dict[str, str]


def media_type(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def is_json_type(value: str) -> bool:
    return value == "application/json" or (
        value.startswith("application/") and value.endswith("+json")
    )


class SafeFetcher:
    """``GET`` small public documents; see the module docstring for every rule."""

    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        resolver: Resolver | None = None,
        timeout: float = FETCH_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.allow_loopback = allow_loopback
        self._resolve = resolver or system_resolver
        self._timeout = timeout
        self._ssl = ssl_context or httpx.create_ssl_context()

    async def get(self, url: str, *, max_bytes: int, json_only: bool = True) -> Fetched:
        """The 200 answer at ``url``, or ``FetchRefused``."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._get(url, max_bytes, json_only)
        except TimeoutError:
            raise FetchRefused(f"no answer within {self._timeout:g} s") from None
        except httpcore.TimeoutException:
            raise FetchRefused(f"no answer within {self._timeout:g} s") from None
        except (httpcore.NetworkError, httpcore.ProtocolError, ssl.SSLError) as exc:
            raise FetchRefused(f"the connection failed ({type(exc).__name__})") from None

    async def _get(self, url: str, max_bytes: int, json_only: bool) -> Fetched:
        addresses = await checked_addresses(
            url, resolver=self._resolve, allow_loopback=self.allow_loopback
        )
        async with httpcore.AsyncConnectionPool(
            ssl_context=self._ssl, network_backend=PinnedBackend(addresses), retries=0
        ) as pool:
            return await self._download(pool, url, max_bytes, json_only)

    async def _download(
        self, pool: httpcore.AsyncConnectionPool, url: str, max_bytes: int, json_only: bool
    ) -> Fetched:
        accept = [(b"Accept", b"application/json"), (b"User-Agent", USER_AGENT.encode())]
        timeouts = {"connect": self._timeout, "read": self._timeout, "write": self._timeout}
        async with pool.stream(
            "GET", url, headers=accept, extensions={"timeout": timeouts}
        ) as response:
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers
            }
            if response.status != 200:
                raise FetchRefused(f"the server answered {response.status}, not 200")
            if json_only and not is_json_type(media_type(headers)):
                raise FetchRefused("the answer is not application/json")
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchRefused(f"the document exceeds {max_bytes} bytes")
            body = bytearray()
            async for chunk in response.aiter_stream():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchRefused(f"the document exceeds {max_bytes} bytes")
            return Fetched(bytes(body), headers)
