"""An httpx client for a client deployed on a server: its OAuth requests cannot reach inside.

REQ-CL-25: a client running on a server fetches URLs that servers it talks to name
(``resource_metadata``, ``authorization_servers``, each endpoint in their metadata), so a
hostile MCP server could point it at ``169.254.169.254`` or an internal admin page. Give
``OAuthClient(http=guarded_client())`` and every one of its requests:

1. must be ``https`` (``http`` only to loopback, and only with ``allow_loopback``, for tests);
2. has its host resolved, and is refused if any address is special-use (``ostiary.net``:
   loopback, private, link-local, shared, multicast, reserved, mapped …);
3. connects to exactly the addresses checked (``PinnedBackend``), while TLS still verifies
   the certificate for the host name;
4. follows no redirect, and reads at most ``max_bytes`` of the answer.

A refusal is an ``httpx.ConnectError`` whose message says why, so the client reports it as it
reports any server it cannot reach. The MCP traffic itself goes wherever the user pointed the
client; this guard is for the URLs it learns from servers. A CLI on a person's own machine
does not need it (and must reach ``localhost`` servers), so it is off unless asked for.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import httpcore
import httpx

from ostiary.net.addresses import (
    FetchRefused,
    PinnedBackend,
    Resolver,
    checked_addresses,
    system_resolver,
)

MAX_BYTES = 1024 * 1024  # OAuth documents and token answers are small
TIMEOUT = 30.0


class GuardedTransport(httpx.AsyncBaseTransport):
    """Each request checked, pinned and read whole (see the module docstring)."""

    def __init__(
        self,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        allow_loopback: bool = False,
        max_bytes: int = MAX_BYTES,
        timeout: float = TIMEOUT,
    ) -> None:
        self._resolve = resolver or system_resolver
        self._ssl = ssl_context or httpx.create_ssl_context()
        self._allow_loopback = allow_loopback
        self._max_bytes = max_bytes
        self._timeout = timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            addresses = await checked_addresses(
                str(request.url), resolver=self._resolve, allow_loopback=self._allow_loopback
            )
        except FetchRefused as exc:
            target = urlsplit(str(request.url)).netloc
            raise httpx.ConnectError(f"refused {target}: {exc}", request=request) from None
        body = await request.aread()
        timeouts = {"connect": self._timeout, "read": self._timeout, "write": self._timeout}
        try:
            async with (
                httpcore.AsyncConnectionPool(
                    ssl_context=self._ssl, network_backend=PinnedBackend(addresses), retries=0
                ) as pool,
                pool.stream(
                    request.method,
                    str(request.url),
                    headers=request.headers.raw,
                    content=body,
                    extensions={"timeout": timeouts},
                ) as response,
            ):
                content = bytearray()
                async for chunk in response.aiter_stream():
                    content += chunk
                    if len(content) > self._max_bytes:
                        raise httpx.ReadError("the answer is too large", request=request)
        except httpcore.TimeoutException as exc:
            raise httpx.TimeoutException(str(exc) or "timed out", request=request) from None
        except (httpcore.NetworkError, httpcore.ProtocolError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}", request=request) from None
        return httpx.Response(
            response.status, headers=response.headers, content=bytes(content), request=request
        )


def guarded_client(
    *,
    resolver: Resolver | None = None,
    ssl_context: ssl.SSLContext | None = None,
    allow_loopback: bool = False,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` over ``GuardedTransport``; no redirects, no proxy from the
    environment. ``allow_loopback`` is for tests only."""
    transport = GuardedTransport(
        resolver=resolver, ssl_context=ssl_context, allow_loopback=allow_loopback
    )
    return httpx.AsyncClient(
        transport=transport, follow_redirects=False, trust_env=False, timeout=TIMEOUT
    )
